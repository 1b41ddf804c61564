"""Idle memory of the `order-api run` stack, per part, by PSS.

PSS (proportional set size) charges each shared page to every process mapping it in equal parts,
so the figures add up to what the stack really holds: RSS would count PostgreSQL's shared buffers
once per backend and the shared libraries once per Python process. PostgreSQL is one part, the
postmaster and every backend summed, its processes broken down by kind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from stack_parts import Member, Part, Role, find_parts
from temporalio.client import Client
from temporalio.service import RPCError

MIB = 1024 * 1024
# Terminating passes over the running workflows before the stack counts as idle.
SETTLE_PASSES = 5
TERMINATE_CONCURRENCY = 50


@dataclass(frozen=True)
class Sample:
    """One process's memory as the kernel reports it (smaps_rollup), in bytes."""

    member: Member
    pss: int
    uss: int
    rss: int


@dataclass(frozen=True)
class Holding:
    """What one part of the stack holds."""

    name: str
    role: Role
    samples: tuple[Sample, ...]
    # PSS by kind of process, for PostgreSQL (client backends, checkpointer, ...).
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def pss(self) -> int:
        return sum(s.pss for s in self.samples)

    @property
    def uss(self) -> int:
        return sum(s.uss for s in self.samples)

    @property
    def rss(self) -> int:
        return sum(s.rss for s in self.samples)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": str(self.role),
            "processes": len(self.samples),
            "pss_mb": self.pss / MIB,
            "uss_mb": self.uss / MIB,
            "rss_mb": self.rss / MIB,
            "kinds_pss_mb": {kind: pss / MIB for kind, pss in self.kinds.items()},
        }


def postgres_kind(cmdline: str) -> str:
    """A PostgreSQL process's kind, from the title it gives itself.

    Backends retitle themselves `postgres: <user> <database> <host>(<port>) <state>`, auxiliary
    processes `postgres: checkpointer` and the like; the postmaster keeps its command line.
    """
    if not cmdline.startswith("postgres:"):
        return "postmaster"
    title = cmdline.removeprefix("postgres:").strip()
    # Only a client backend names its peer, as host(port).
    if any("(" in word and word.endswith(")") for word in title.split()):
        return "client backends"
    return title


def holding(part: Part, samples: Sequence[Sample]) -> Holding:
    kinds: dict[str, int] = {}
    if part.role is Role.POSTGRES:
        for sample in samples:
            kind = postgres_kind(sample.member.cmdline)
            kinds[kind] = kinds.get(kind, 0) + sample.pss
        kinds = dict(sorted(kinds.items(), key=lambda item: -item[1]))
    return Holding(part.name, part.role, tuple(samples), kinds)


def _sample(member: Member) -> Sample | None:
    with suppress(psutil.Error):
        info = psutil.Process(member.pid).memory_full_info()
        return Sample(member, int(info.pss), int(info.uss), int(info.rss))
    return None


def measure(parts: Iterable[Part]) -> list[Holding]:
    """Each part's memory now, largest first; a process that has exited is left out."""
    found = [
        holding(part, [s for s in map(_sample, part.members) if s is not None]) for part in parts
    ]
    return sorted(found, key=lambda h: -h.pss)


def measure_stack(supervisor_pid: int, postgres_data_dir: Path | None) -> list[Holding]:
    return measure(find_parts(supervisor_pid, postgres_data_dir))


async def _running_workflows(client: Client) -> int:
    return (await client.count_workflows("ExecutionStatus = 'Running'")).count


async def _wait_for_workflows(temporal_address: str, timeout: float) -> int:
    client = await Client.connect(temporal_address)
    deadline = time.monotonic() + timeout
    running = await _running_workflows(client)
    while running and time.monotonic() < deadline:
        await asyncio.sleep(2)
        running = await _running_workflows(client)
    return running


@dataclass(frozen=True)
class Settled:
    """What was still in flight when the wait ran out, and was stopped so the stack is idle."""

    still_running: int
    unstarted_dropped: int
    terminated: int


async def _terminate_running(client: Client) -> int:
    # Listed first, then stopped many at a time: paging while stopping would skip runs.
    running = [
        (found.id, found.run_id)
        async for found in client.list_workflows("ExecutionStatus = 'Running'")
    ]
    gate = asyncio.Semaphore(TERMINATE_CONCURRENCY)

    async def stop(workflow_id: str, run_id: str | None) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id, run_id=run_id).terminate(
                    reason="bench: stopped so idle memory can be read"
                )
            except RPCError:  # it closed meanwhile
                return False
            return True

    return sum(await asyncio.gather(*(stop(*run) for run in running)))


async def _settle(temporal_address: str, dsn: str, timeout: float) -> Settled:
    running = await _wait_for_workflows(temporal_address, timeout)
    if not running:
        return Settled(0, 0, 0)
    # The bench's own throwaway database: orders the relay has not started yet are dropped, so
    # nothing new starts while the running ones are stopped.
    with psycopg.connect(dsn, autocommit=True) as conn:
        dropped = conn.execute("DELETE FROM workflow_starts").rowcount
    client = await Client.connect(temporal_address)
    terminated = 0
    for _ in range(SETTLE_PASSES):
        stopped = await _terminate_running(client)
        terminated += stopped
        if not stopped and not await _running_workflows(client):
            break
    return Settled(running, dropped, terminated)


def settle(temporal_address: str, dsn: str, timeout: float) -> Settled:
    """Waits up to `timeout` seconds for the workflows to finish; whatever is still in flight
    then (the intake scenario accepts far more orders than fulfilment finishes in a bench's
    time) is stopped, so memory is read on an idle stack. Says what was stopped."""
    return asyncio.run(_settle(temporal_address, dsn, timeout))


def wait_until_idle(temporal_address: str, timeout: float) -> int:
    """Waits, up to `timeout` seconds, until no workflow runs: memory read while the workers
    still fulfil orders is memory in use, not what the stack keeps when idle. Returns how many
    were still running."""
    return asyncio.run(_wait_for_workflows(temporal_address, timeout))


def total_pss_mb(found: Iterable[Holding]) -> float:
    return sum(h.pss for h in found) / MIB


def as_json(
    found: Sequence[Holding],
    idle_seconds: float,
    still_running: int,
    settled: Settled | None = None,
) -> dict[str, Any]:
    return {
        "idle_seconds": idle_seconds,
        "workflows_still_running": still_running,
        "settled": asdict(settled) if settled else None,
        "total_pss_mb": total_pss_mb(found),
        "parts": [h.as_json() for h in found],
    }


def record_idle_pss(ratios: dict[str, Any], memory: dict[str, Any]) -> None:
    """Fills the `idle_pss_mb` ratio key from a measurement and drops its note of absence."""
    ratios["idle_pss_mb"] = memory["total_pss_mb"]
    missing = ratios.get("missing")
    if isinstance(missing, dict):
        missing.pop("idle_pss_mb", None)


def table(memory: dict[str, Any]) -> str:
    """The memory part of the printed result, from its JSON form."""
    header = f"{'idle memory after load':<34}{'procs':>6}{'PSS MB':>9}{'USS MB':>9}{'RSS MB':>9}"
    lines = [header, "-" * len(header)]
    for part in memory["parts"]:
        lines.append(
            f"{part['name']:<34}{part['processes']:>6}{part['pss_mb']:>9.1f}"
            f"{part['uss_mb']:>9.1f}{part['rss_mb']:>9.1f}"
        )
        for kind, pss in part["kinds_pss_mb"].items():
            lines.append(f"{'  ' + kind:<34}{'':>6}{pss:>9.1f}")
    processes = sum(part["processes"] for part in memory["parts"])
    lines.append(f"{'total':<34}{processes:>6}{memory['total_pss_mb']:>9.1f}")
    return "\n".join(lines)
