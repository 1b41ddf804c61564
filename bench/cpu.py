"""Where the CPU went while one scenario ran: cores used by each part of the stack and by the
whole machine, so the report can say what limited a path from what was measured.

A process that exits during the scenario (a pooled PostgreSQL connection closed) takes its CPU
time with it, so the parts' figures are lower bounds; the machine's figure is complete and also
counts k6, the bare app and anything else running on the machine.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psutil
from stack_parts import Part


def _cpu_seconds(pid: int) -> float | None:
    with suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    return None


def _waited_children_seconds() -> float:
    """CPU of this process's children that have been waited for: k6, once its run returns."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(usage.ru_utime + usage.ru_stime)


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def cores_by_part(
    before: dict[int, float], after: dict[int, float], parts: list[Part], wall: float
) -> dict[str, float]:
    """Cores each part used over `wall` seconds; a process new since `before` started at zero."""
    used: dict[str, float] = {}
    for part in parts:
        seconds = sum(after[m.pid] - before.get(m.pid, 0.0) for m in part.members if m.pid in after)
        used[part.name] = seconds / wall if wall > 0 else 0.0
    return dict(sorted(used.items(), key=lambda item: -item[1]))


@contextmanager
def measuring(find: Callable[[], list[Part]]) -> Iterator[dict[str, Any]]:
    """Yields a dict filled, when the block ends, with `wall_seconds`, `machine_busy_cores`,
    `cpus`, `cores` (by part) and `load_generator_cores` (the children this process ran and
    waited for in the block: k6)."""
    result: dict[str, Any] = {}
    before = {m.pid: s for p in find() for m in p.members if (s := _cpu_seconds(m.pid)) is not None}
    busy_before, started = _machine_busy_seconds(), time.monotonic()
    children_before = _waited_children_seconds()
    try:
        yield result
    finally:
        wall = time.monotonic() - started
        parts = find()
        after = {
            m.pid: s for p in parts for m in p.members if (s := _cpu_seconds(m.pid)) is not None
        }
        result.update(
            wall_seconds=wall,
            cpus=psutil.cpu_count(),
            machine_busy_cores=(_machine_busy_seconds() - busy_before) / wall if wall else 0.0,
            cores=cores_by_part(before, after, parts, wall),
            load_generator_cores=(_waited_children_seconds() - children_before) / wall
            if wall
            else 0.0,
        )
