"""Start-up objects are frozen out of the cycle collector's scans, once, after a collection."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> str:
    """Runs `script` in a fresh interpreter: freezing is for a whole process, once."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_objects_alive_at_startup_are_left_out_of_later_collections() -> None:
    out = _run(
        """
        import gc
        from foundation.collector import freeze_startup_objects

        class Route:
            pass

        route = Route()
        frozen = freeze_startup_objects()
        scanned = gc.get_objects()
        print(frozen > 0, any(o is route for o in scanned))
        """
    )
    assert out == "True False"


def test_garbage_left_by_startup_is_collected_before_the_freeze() -> None:
    out = _run(
        """
        import gc, weakref
        from foundation.collector import freeze_startup_objects

        gc.disable()  # so only the freeze's own collection can free the cycle

        class Node:
            pass

        node = Node()
        node.self = node
        alive = weakref.ref(node)
        del node
        freeze_startup_objects()
        print(alive() is None)
        """
    )
    assert out == "True"


def test_only_the_first_start_in_a_process_freezes() -> None:
    out = _run(
        """
        import gc
        from foundation.collector import freeze_startup_objects

        first = freeze_startup_objects()
        later = [object() for _ in range(1000)]
        second = freeze_startup_objects()
        print(first > 0, second, gc.get_freeze_count() == first)
        """
    )
    assert out == "True 0 True"
