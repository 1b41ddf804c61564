"""How `make bench` names the stack's processes and adds up their memory."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from memory import Sample, holding, postgres_kind, record_idle_pss, table
from stack_parts import Member, Part, Role, name_parts, role_of

MIB = 1024 * 1024
SUPERVISOR = Member(1, "/venv/bin/python /venv/bin/order-api run")
WORKER = "/venv/bin/python -m processes.cli worker"


def test_postgres_is_one_part_holding_the_pss_of_the_postmaster_and_every_backend() -> None:
    family = (
        Member(10, "/pg/bin/postgres -D /data/postgres -p 5432"),
        Member(11, "postgres: checkpointer "),
        Member(12, "postgres: postgres orders 127.0.0.1(40000) idle"),
        Member(13, "postgres: postgres orders 127.0.0.1(40002) idle"),
    )
    part = Part("PostgreSQL", Role.POSTGRES, family)
    samples = [Sample(m, pss=(i + 1) * MIB, uss=MIB, rss=100 * MIB) for i, m in enumerate(family)]

    held = holding(part, samples)

    assert held.pss == 10 * MIB
    assert held.kinds == {"client backends": 7 * MIB, "checkpointer": 2 * MIB, "postmaster": MIB}


def test_a_backend_is_told_from_an_auxiliary_process_by_the_peer_in_its_title() -> None:
    assert postgres_kind("postgres: postgres orders 127.0.0.1(51234) idle") == "client backends"
    assert postgres_kind("postgres: walwriter ") == "walwriter"
    assert postgres_kind("/pg/bin/postgres -D /data -p 5432") == "postmaster"


def test_two_workers_are_numbered_by_pid_and_each_child_named_by_its_command_line() -> None:
    children = [
        Member(30, WORKER),
        Member(20, WORKER),
        Member(40, "python -m uvicorn api.main:app --port 8000"),
        Member(50, "temporal server start-dev --port 7233"),
        Member(60, "python -m simulators.serve simulators.carrier.app:app=8102"),
    ]

    parts = {p.name: p.members[0].pid for p in name_parts(SUPERVISOR, children, [])}

    assert parts == {
        "supervisor (order-api run)": 1,
        "worker-1": 20,
        "worker-2": 30,
        "API": 40,
        "Temporal dev server": 50,
        "simulators": 60,
    }


def test_a_postgres_process_under_the_supervisor_counts_once_in_postgres() -> None:
    postmaster = Member(10, "/pg/bin/postgres -D /data/postgres")

    parts = name_parts(SUPERVISOR, [postmaster], [postmaster])

    assert [p.role for p in parts] == [Role.SUPERVISOR, Role.POSTGRES]


def test_an_unknown_process_is_kept_under_a_name_of_its_own() -> None:
    assert role_of("python -m processes.cli relay") is Role.RELAY
    assert role_of("/usr/bin/something") is Role.OTHER


def test_the_idle_total_fills_its_ratio_and_drops_the_note_that_it_was_missing() -> None:
    ratios = {"idle_pss_mb": None, "missing": {"idle_pss_mb": "not sampled", "other": "x"}}

    record_idle_pss(ratios, {"total_pss_mb": 612.5, "parts": []})

    assert ratios == {"idle_pss_mb": 612.5, "missing": {"other": "x"}}


def test_the_printed_table_lists_each_part_its_kinds_and_the_total() -> None:
    memory = {
        "total_pss_mb": 150.0,
        "parts": [
            {
                "name": "PostgreSQL",
                "processes": 3,
                "pss_mb": 100.0,
                "uss_mb": 80.0,
                "rss_mb": 300.0,
                "kinds_pss_mb": {"client backends": 90.0, "postmaster": 10.0},
            },
            {
                "name": "API",
                "processes": 1,
                "pss_mb": 50.0,
                "uss_mb": 45.0,
                "rss_mb": 70.0,
                "kinds_pss_mb": {},
            },
        ],
    }

    lines = table(memory).splitlines()

    assert lines[2].split() == ["PostgreSQL", "3", "100.0", "80.0", "300.0"]
    assert lines[3].split() == ["client", "backends", "90.0"]
    assert lines[-1].split() == ["total", "4", "150.0"]
