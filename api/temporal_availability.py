"""Saying "Temporal is unreachable" (foundation.temporal_client.temporal_unreachable) as a 503."""

from __future__ import annotations

from api.problems import ProblemError


def temporal_unavailable(detail: str) -> ProblemError:
    return ProblemError(
        503,
        "temporal-unavailable",
        f"{detail} Temporal is unavailable; retrying is safe.",
        headers={"Retry-After": "5"},
    )
