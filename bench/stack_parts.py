"""The processes of an `order-api run` stack, grouped into the parts a reader knows by name.

A part is one process (the API, each worker, the Temporal dev server, ...) or PostgreSQL's
whole family: the postmaster and every backend, which pg_ctl daemonizes, so they are found by
the postmaster's pid file rather than under the supervisor.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psutil


class Role(StrEnum):
    SUPERVISOR = "supervisor"
    POSTGRES = "postgres"
    TEMPORAL = "temporal"
    API = "api"
    WORKER = "worker"
    RELAY = "relay"
    SIMULATORS = "simulators"
    OTHER = "other"


# What in a child's command line says which part of the stack it is; the first match wins.
ROLE_MARKERS: tuple[tuple[str, Role], ...] = (
    ("api.main:app", Role.API),
    ("simulators.", Role.SIMULATORS),
    ("server start-dev", Role.TEMPORAL),
    ("processes.cli worker", Role.WORKER),
    ("relay", Role.RELAY),
)

# Roles that can run more than once, numbered by pid so the two workers stay apart.
NUMBERED = frozenset({Role.WORKER, Role.RELAY, Role.OTHER})
NAMES = {
    Role.SUPERVISOR: "supervisor (order-api run)",
    Role.POSTGRES: "PostgreSQL",
    Role.TEMPORAL: "Temporal dev server",
    Role.API: "API",
    Role.SIMULATORS: "simulators",
}


def role_of(cmdline: str) -> Role:
    for marker, role in ROLE_MARKERS:
        if marker in cmdline:
            return role
    return Role.OTHER


@dataclass(frozen=True)
class Member:
    pid: int
    cmdline: str


@dataclass(frozen=True)
class Part:
    name: str
    role: Role
    members: tuple[Member, ...]


def name_parts(
    supervisor: Member, children: Iterable[Member], postgres: Iterable[Member]
) -> list[Part]:
    """The supervisor, PostgreSQL as one part, then each child process as a part of its own."""
    parts = [Part(NAMES[Role.SUPERVISOR], Role.SUPERVISOR, (supervisor,))]
    family = tuple(postgres)
    if family:
        parts.append(Part(NAMES[Role.POSTGRES], Role.POSTGRES, family))
    in_family = {member.pid for member in family}
    counts: dict[Role, int] = {}
    for child in sorted(children, key=lambda member: member.pid):
        if child.pid in in_family:
            continue
        role = role_of(child.cmdline)
        counts[role] = counts.get(role, 0) + 1
        name = f"{role}-{counts[role]}" if role in NUMBERED else NAMES[role]
        parts.append(Part(name, role, (child,)))
    return parts


def _member(process: psutil.Process) -> Member | None:
    with suppress(psutil.Error):
        return Member(process.pid, " ".join(process.cmdline()))
    return None


def postmaster_pid(postgres_data_dir: Path) -> int | None:
    with suppress(OSError, ValueError, IndexError):
        return int((postgres_data_dir / "postmaster.pid").read_text().split()[0])
    return None


def find_parts(supervisor_pid: int, postgres_data_dir: Path | None) -> list[Part]:
    """The stack as it runs now; processes that exit while it is looked at are left out."""
    supervisor = psutil.Process(supervisor_pid)
    own = _member(supervisor)
    if own is None:
        raise RuntimeError(f"no process {supervisor_pid} to look at")
    children = [m for m in map(_member, supervisor.children(recursive=True)) if m is not None]
    family: list[Member] = []
    pid = postmaster_pid(postgres_data_dir) if postgres_data_dir is not None else None
    if pid is not None:
        with suppress(psutil.Error):
            postmaster = psutil.Process(pid)
            found = [postmaster, *postmaster.children(recursive=True)]
            family = [m for m in map(_member, found) if m is not None]
    return name_parts(own, children, family)
