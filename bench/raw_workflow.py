"""Benchmark-only, not part of the service: the least a workflow on this server can be.

`Trivial` returns at once (what a start costs); `ThreeSteps` runs three activities that do
nothing, the shape of an order (reserve, charge, ship) without our database, providers or status
writes. The order workflow is judged against `ThreeSteps` drained by one worker on the same server.
Kept in a module of its own so the worker's sandbox can import it by name.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

STEP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench_step")
async def step(n: int) -> int:
    return n


@workflow.defn(name="BenchTrivial")
class Trivial:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(name="BenchThreeSteps")
class ThreeSteps:
    @workflow.run
    async def run(self) -> int:
        total = 0
        for n in range(3):
            total += await workflow.execute_activity(step, n, start_to_close_timeout=STEP_TIMEOUT)
        return total
