"""Hand the heap a burst of work freed back to the system once the process has gone quiet.

glibc's malloc keeps freed memory in its arenas for reuse and gives back only the top of the main
heap on its own, so after a burst a Python process stays near its peak RSS though much of that is
free. `malloc_trim(0)` returns the free pages of every arena. It walks the whole heap holding the
allocator's lock (25 ms to give back 65 MB of a 206 MB one here), so it runs only when a process
has done some work since the last trim and then spent an interval quiet: never under load, where
freed memory is about to be reused. Elsewhere than glibc (musl, macOS) there is no such call and
nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import mmap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# How often a process looks at its own CPU time; 0 turns the release off.
DEFAULT_CHECK_SECONDS = 1.0
# Less CPU than this share of one core over an interval is quiet: an idle worker's pollers and
# listeners use well under 1%, a loaded one tens of percent.
QUIET_CPU_SHARE = 0.05
# CPU time since the last trim that counts as work worth trimming after: a startup's imports or
# a burst of requests use seconds, a quiet process's heartbeats milliseconds a minute.
WORK_CPU_SECONDS = 0.5


def _find_malloc_trim() -> Callable[[int], int] | None:
    with suppress(OSError, AttributeError):
        trim = ctypes.CDLL("libc.so.6").malloc_trim
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        return trim
    return None


_MALLOC_TRIM = _find_malloc_trim()


def can_release_heap() -> bool:
    return _MALLOC_TRIM is not None


def resident_bytes() -> int | None:
    """This process's resident set, or None where /proc does not say."""
    with suppress(OSError, ValueError, IndexError):
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * mmap.PAGESIZE
    return None


def release_heap() -> int | None:
    """Return the allocator's free pages to the system; the bytes it gave back, None if unknown."""
    if _MALLOC_TRIM is None:
        return None
    before = resident_bytes()
    _MALLOC_TRIM(0)
    after = resident_bytes()
    return None if before is None or after is None else max(before - after, 0)


@dataclass
class QuietAfterWork:
    """Decides from CPU-time readings when a trim is worth making: the first quiet interval after
    some work, once per burst."""

    quiet_cpu_share: float = QUIET_CPU_SHARE
    work_cpu_seconds: float = WORK_CPU_SECONDS
    _last: tuple[float, float] | None = field(default=None, init=False)
    _cpu_at_last_trim: float = field(default=0.0, init=False)

    def reading(self, wall: float, cpu: float) -> bool:
        """Take one (wall clock, process CPU) reading; True when it is time to trim."""
        last, self._last = self._last, (wall, cpu)
        if last is None:
            return False
        wall_spent, cpu_spent = wall - last[0], cpu - last[1]
        quiet = wall_spent > 0 and cpu_spent < self.quiet_cpu_share * wall_spent
        worked = cpu - self._cpu_at_last_trim >= self.work_cpu_seconds
        if quiet and worked:
            self._cpu_at_last_trim = cpu
            return True
        return False


@dataclass
class HeapReleaser:
    """Looked at every few seconds by a process's own loop; trims when QuietAfterWork says so."""

    check_seconds: float = DEFAULT_CHECK_SECONDS
    decider: QuietAfterWork = field(default_factory=QuietAfterWork)
    _next_check: float = field(default=0.0, init=False)

    @property
    def enabled(self) -> bool:
        return self.check_seconds > 0 and can_release_heap()

    def tick(self) -> None:
        """For a synchronous loop: a cheap no-op until a check is due."""
        now = time.monotonic()
        if not self.enabled or now < self._next_check:
            return
        self._next_check = now + self.check_seconds
        self.check(now)

    def check(self, now: float) -> None:
        if self.decider.reading(now, time.process_time()):
            released = release_heap()
            if released is not None:
                logger.info("quiet after work: gave %.1f MB of freed heap back", released / MIB)

    async def run(self) -> None:
        """For an event loop: check every check_seconds until cancelled."""
        if not self.enabled:
            return
        while True:
            self.check(time.monotonic())
            await asyncio.sleep(self.check_seconds)


@asynccontextmanager
async def heap_released_when_quiet(
    check_seconds: float = DEFAULT_CHECK_SECONDS,
) -> AsyncIterator[None]:
    """A HeapReleaser running beside the block, in the running event loop, stopped with it."""
    checking = asyncio.create_task(HeapReleaser(check_seconds).run(), name="heap-release")
    try:
        yield
    finally:
        checking.cancel()
        with suppress(asyncio.CancelledError):
            await checking
