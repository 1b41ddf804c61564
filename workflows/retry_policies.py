"""Every retry policy and timeout the workflows declare, on one screen."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Writing the order's own row: our database, so retry briskly and for as long as it takes.
RECORD_KEEPING = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)
RECORD_KEEPING_TIMEOUT = timedelta(seconds=10)
