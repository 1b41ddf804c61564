"""Telling "Temporal is unreachable" apart from Temporal's answers, and saying so as a 503."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

from api.problems import ProblemError

# The server could not be reached or did not answer in time: worth a retry, not the caller's fault.
_UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def temporal_unreachable(error: BaseException) -> bool:
    if isinstance(error, RPCError):
        return error.status in _UNREACHABLE
    # A lazy client whose first connect fails raises a plain RuntimeError saying so.
    return isinstance(error, RuntimeError) and "Failed client connect" in str(error)


def temporal_unavailable(detail: str) -> ProblemError:
    return ProblemError(
        503,
        "temporal-unavailable",
        f"{detail} Temporal is unavailable; retrying is safe.",
        headers={"Retry-After": "5"},
    )
