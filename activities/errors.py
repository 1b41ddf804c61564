"""How activities report failures: typed, with the attempt number for the dead-letter row."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from workflows.contracts import ErrorType


def step_failed(
    message: str, error_type: ErrorType, *, retryable: bool, business_outcome: bool = False
) -> ApplicationError:
    """A step's failure. `business_outcome` marks answers such as a declined card: expected,
    so logged at debug instead of as a worker warning with a traceback."""
    # The attempt travels as a detail because ActivityError does not carry the attempt count.
    return ApplicationError(
        message,
        {"attempt": activity.info().attempt},
        type=error_type.value,
        non_retryable=not retryable,
        category=(
            ApplicationErrorCategory.BENIGN
            if business_outcome
            else ApplicationErrorCategory.UNSPECIFIED
        ),
    )
