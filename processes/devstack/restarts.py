"""When `order-api run` brings a dead child back, and when it stops trying.

A child that dies is restarted after a delay that doubles with each failure in a row that came
soon after a (re)start, so a killed worker is back within a second while a child that cannot start
does not spin; one that ran for `STABLE_SECONDS` starts again from the shortest delay. The stack
gives up on a child only when it keeps failing: `MAX_FAILURES` times within `WINDOW_SECONDS`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_SECONDS = 60.0
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
STABLE_SECONDS = 10.0


@dataclass
class RestartBudget:
    failures: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    started_at: float | None = None
    failures_in_a_row: int = 0

    @property
    def recent_failures(self) -> int:
        return len(self.failures)

    def exhausted(self) -> bool:
        return self.recent_failures >= MAX_FAILURES

    def record_failure(self, now: float) -> float:
        """Count a failure at `now`; returns the delay before the next start."""
        while self.failures and now - self.failures[0] > WINDOW_SECONDS:
            self.failures.popleft()
        self.failures.append(now)
        if self.started_at is None or now - self.started_at >= STABLE_SECONDS:
            self.failures_in_a_row = 0
        self.failures_in_a_row += 1
        delay = min(FIRST_DELAY_SECONDS * 2.0 ** (self.failures_in_a_row - 1), MAX_DELAY_SECONDS)
        self.restart_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.restart_at is not None and now >= self.restart_at

    def waiting(self) -> bool:
        return self.restart_at is not None

    def restarted(self, now: float) -> None:
        self.restart_at = None
        self.started_at = now
