"""When a process hands its freed heap back to the system, and that doing so gives memory back."""

from __future__ import annotations

import asyncio
import random
import re

import pytest

from foundation.heap_release import (
    HeapReleaser,
    QuietAfterWork,
    can_release_heap,
    release_heap,
    resident_bytes,
)

MIB = 1024 * 1024


def readings(decider: QuietAfterWork, *cpu_every_five_seconds: float) -> list[bool]:
    """The decider's answers to CPU-time readings taken five seconds apart."""
    return [decider.reading(5.0 * i, cpu) for i, cpu in enumerate(cpu_every_five_seconds)]


def test_the_first_quiet_interval_after_work_is_time_to_trim() -> None:
    # 2 s of CPU in the first five seconds (a burst), then 10 ms in the next five.
    assert readings(QuietAfterWork(), 0.0, 2.0, 2.01) == [False, False, True]


def test_a_busy_interval_is_never_time_to_trim() -> None:
    assert readings(QuietAfterWork(), 0.0, 2.0, 4.0, 6.0) == [False, False, False, False]


def test_one_burst_gets_one_trim() -> None:
    assert readings(QuietAfterWork(), 0.0, 2.0, 2.01, 2.02, 2.03) == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_quiet_with_too_little_work_since_the_last_trim_is_not_time_to_trim() -> None:
    # A quiet process's heartbeats: 10 ms every five seconds, far below the work threshold.
    decider = QuietAfterWork(work_cpu_seconds=0.5)
    assert not any(readings(decider, *(0.01 * i for i in range(20))))


def test_the_next_burst_gets_a_trim_of_its_own() -> None:
    answers = readings(QuietAfterWork(), 0.0, 2.0, 2.01, 4.0, 4.01)
    assert answers == [False, False, True, False, True]


def test_a_releaser_set_to_zero_seconds_is_off_and_returns_at_once() -> None:
    releaser = HeapReleaser(check_seconds=0)
    assert not releaser.enabled
    asyncio.run(asyncio.wait_for(releaser.run(), timeout=1))


@pytest.mark.skipif(not can_release_heap(), reason="needs glibc's malloc_trim")
def test_releasing_the_heap_gives_freed_memory_back() -> None:
    # Small blocks, every seventh kept: freed memory riddled with live blocks, which glibc's
    # malloc does not hand back by itself.
    rng = random.Random(7)
    kept: list[bytearray] = []
    freed: list[bytearray] = []
    for i in range(120_000):
        (kept if i % 7 == 0 else freed).append(bytearray(rng.randint(600, 1800)))
    del freed
    before = resident_bytes()
    released = release_heap()
    after = resident_bytes()
    assert before is not None and after is not None and released is not None
    assert released >= 40 * MIB
    assert after <= before - 40 * MIB
    assert len(kept) == 120_000 // 7 + 1


class _Always(QuietAfterWork):
    """A decider that finds every reading time to trim, and counts the readings."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def reading(self, wall: float, cpu: float) -> bool:
        self.count += 1
        return True


def test_a_synchronous_loop_looks_at_most_once_per_check_interval() -> None:
    decider = _Always()
    releaser = HeapReleaser(check_seconds=60, decider=decider)
    for _ in range(100):
        releaser.tick()
    assert decider.count == (1 if can_release_heap() else 0)


@pytest.mark.skipif(not can_release_heap(), reason="needs glibc's malloc_trim")
def test_a_trim_says_how_much_it_gave_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="foundation.heap_release")
    HeapReleaser(check_seconds=60, decider=_Always()).tick()
    assert re.search(r"quiet after work: gave [0-9.]+ MB of freed heap back", caplog.text)
