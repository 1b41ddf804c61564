"""`bench/report.md` is rendered from a results JSON: its figures, verdicts and limits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from cpu import cores_by_part
from report import limit_of_path, ratios_table, render
from stack_parts import Member, Part, Role


def results() -> dict[str, Any]:
    return {
        "started_at": "2026-11-27T16:00:00+00:00",
        "machine": {
            "cpu_model": "Example CPU 9000",
            "cpus": 2,
            "memory_gib": 23.5,
            "system": "Linux 6.1",
            "python": "3.11.9",
        },
        "vus": 32,
        "duration": "10s",
        "reps": 3,
        "ratios": {
            "get_vs_bare_select": 0.62,
            "replay_vs_bare_insert": 0.31,
            "idle_pss_mb": 640.0,
            "start_lag_p99_s": None,
            "missing": {"start_lag_p99_s": "no relay yet"},
        },
        "medians": {
            "get": {
                "service": {"rps": 620.0, "p50": 40.0, "p99": 90.0, "reps": 3},
                "bare": {"rps": 1000.0, "p50": 20.0, "p99": 45.0, "reps": 3},
            }
        },
        "rows": [{"pair": "get", "target": "service", "rep": 0, "requests": 6200}],
        "cpu": {
            "get/service/0": {
                "wall_seconds": 10.0,
                "cpus": 2,
                "machine_busy_cores": 1.2,
                "cores": {"API": 0.95, "PostgreSQL": 0.2},
            }
        },
        "memory": {
            "idle_seconds": 5.0,
            "total_pss_mb": 640.0,
            "parts": [
                {
                    "name": "Temporal dev server",
                    "processes": 1,
                    "pss_mb": 140.0,
                    "uss_mb": 100.0,
                    "rss_mb": 180.0,
                    "kinds_pss_mb": {},
                }
            ],
        },
        "failures": [],
    }


def test_the_report_names_the_machine_the_load_and_the_result_it_was_made_from() -> None:
    text = render(results(), "bench/results/20261127T160000Z.json")

    assert "`bench/results/20261127T160000Z.json`" in text
    assert "Example CPU 9000, 2 cores, 23.5 GiB RAM" in text
    assert "k6 at 32 virtual users, 10s per run, 3 alternating repetitions" in text


def test_each_ratio_is_judged_against_its_target() -> None:
    rows = {line.split("|")[1].strip(): line for line in ratios_table(results())[2:]}

    assert rows["`get_vs_bare_select`"].endswith("| ≥ 0.5 | met |")
    assert rows["`replay_vs_bare_insert`"].endswith("| ≥ 0.5 | **not met** |")
    assert "| 640.0 | ≤ 800 | met |" in rows["`idle_pss_mb`"]


def test_a_ratio_the_run_did_not_measure_says_why_instead_of_a_verdict() -> None:
    rows = {line.split("|")[1].strip(): line for line in ratios_table(results())[2:]}

    assert "not measured: no relay yet" in rows["`start_lag_p99_s`"]
    assert "not measured: no figure in this run" in rows["`intake_vs_bare_insert`"]


def test_the_throughput_table_shows_the_service_beside_its_bare_baseline() -> None:
    text = render(results(), "r.json")

    assert (
        "| GET /orders/{id} | 620.0 | 40.0 | 90.0 | SELECT by id | 1000.0 | 45.0 | 0.620 | 2.00 |"
        in text
    )


def test_the_memory_section_lists_each_part_and_the_total() -> None:
    text = render(results(), "r.json")

    assert "| Temporal dev server | 1 | 140.0 | 100.0 | 180.0 |" in text
    assert "| **total** | | **640.0** | | |" in text


def test_a_path_is_limited_by_a_part_that_used_a_whole_core() -> None:
    line = limit_of_path("GET", results()["cpu"]["get/service/0"], requests=6200)

    assert "limited by API, at 0.95 cores" in line
    # 0.95 cores for 10 s over 6200 requests.
    assert "1.5 ms of CPU a request" in line


def test_a_path_is_limited_by_the_machine_when_all_its_cores_were_busy() -> None:
    cpu = {"wall_seconds": 10.0, "cpus": 2, "machine_busy_cores": 1.95, "cores": {"API": 0.7}}

    assert "limited by the machine: 1.95 of its 2 cores were busy" in limit_of_path("x", cpu, None)


def test_a_path_with_no_busy_part_on_an_idle_machine_was_waiting() -> None:
    cpu = {"wall_seconds": 10.0, "cpus": 2, "machine_busy_cores": 0.6, "cores": {"API": 0.3}}

    assert "limited by waiting rather than CPU" in limit_of_path("x", cpu, None)


def test_cpu_of_a_process_started_during_the_scenario_counts_from_zero() -> None:
    parts = [
        Part("API", Role.API, (Member(1, "api"),)),
        Part("PostgreSQL", Role.POSTGRES, (Member(2, "postgres"), Member(3, "postgres: b"))),
    ]

    cores = cores_by_part({1: 10.0, 2: 1.0}, {1: 15.0, 2: 2.0, 3: 1.0}, parts, wall=10.0)

    assert cores == {"API": 0.5, "PostgreSQL": 0.2}


def test_the_memory_line_says_how_many_workflows_were_still_running() -> None:
    busy = results()
    busy["memory"]["workflows_still_running"] = 404

    assert "with 404 workflows still running" in render(busy, "r.json")
    assert "no workflow running" in render(results(), "r.json")


def test_a_busy_machine_is_split_into_the_stack_k6_and_everything_else() -> None:
    cpu = {
        "wall_seconds": 10.0,
        "cpus": 2,
        "machine_busy_cores": 1.9,
        "load_generator_cores": 0.6,
        "cores": {"API": 0.7, "PostgreSQL": 0.3},
    }

    line = limit_of_path("x", cpu, None)

    assert "(the stack 1.00, k6 0.60, everything else 0.30)" in line


def test_the_report_sets_the_orders_burst_beside_the_raw_engine() -> None:
    run = results() | {
        "engine": {
            "start_burst": 200,
            "start_concurrency": 32,
            "starts_per_second": 85.0,
            "raw_workflow": {
                "runs": 200,
                "finished": 200,
                "seconds": 10.9,
                "per_second": 18.4,
                "history_events_per_run": 23,
            },
        },
        "order_burst": {
            "orders": 200,
            "completed": 200,
            "drain_seconds": 22.5,
            "completed_per_second": 8.9,
            "start_lag_p50_s": 0.5,
            "start_lag_p99_s": 0.7,
            "history_events_per_order": 33,
        },
    }
    text = render(run, "bench/results/example.json")
    assert "| raw 3-activity workflow, completed | 18.4 |" in text
    assert "| orders, accepted to COMPLETED | 8.9 |" in text
    assert "p99 0.70 s" in text


def test_a_run_without_the_bursts_says_they_were_not_measured() -> None:
    text = render(results(), "bench/results/example.json")
    section = text.split("## Fulfilment against the raw engine", 1)[1]
    assert section.split("##", 1)[0].strip() == "Not measured in this run."


def test_the_report_says_what_was_stopped_before_memory_was_read() -> None:
    run = results()
    run["memory"]["settled"] = {"still_running": 900, "unstarted_dropped": 40, "terminated": 880}
    text = render(run, "bench/results/example.json")
    assert "880 workflows terminated, 40 unstarted orders dropped" in text
