"""A failed workflow start waits longer after each failure, never longer than the cap."""

from __future__ import annotations

from datetime import timedelta

from processes.relay import retry_delay


def test_the_first_retry_comes_after_half_a_second() -> None:
    assert retry_delay(1, cap_seconds=10) == timedelta(seconds=0.5)


def test_each_failure_doubles_the_wait() -> None:
    waits = [retry_delay(n, cap_seconds=100).total_seconds() for n in range(1, 6)]
    assert waits == [0.5, 1, 2, 4, 8]


def test_the_wait_stops_growing_at_the_cap() -> None:
    assert retry_delay(30, cap_seconds=10) == timedelta(seconds=10)
