"""`bench/report.md`, the short load-test report, rendered from one results JSON.

`make bench` rewrites it after every run; `.venv/bin/python bench/report.py RESULTS.json`
renders it again from a kept result. Every figure and every judgement in it comes from the
JSON; only the closing paragraph on how to read it is fixed text.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR / "report.md"
GIB = 1024**3
# A process this busy (in cores) is taken to be the limit: the API and the simulators are one
# event loop each, so one core is all they can use.
SATURATED_CORES = 0.9


class Goal(StrEnum):
    AT_LEAST = "≥"
    AT_MOST = "≤"


@dataclass(frozen=True)
class Target:
    key: str
    what: str
    goal: Goal
    bound: float

    def met(self, value: float) -> bool:
        return value >= self.bound if self.goal is Goal.AT_LEAST else value <= self.bound


# The targets of the performance plan, one per key of `ratios`.
TARGETS = (
    Target("intake_vs_bare_insert", "new orders, req/s ÷ bare INSERT", Goal.AT_LEAST, 0.5),
    Target("intake_p99_vs_bare_p99", "new orders, p99 ÷ bare INSERT p99", Goal.AT_MOST, 3.0),
    Target("replay_vs_bare_insert", "replay, req/s ÷ bare INSERT", Goal.AT_LEAST, 0.5),
    Target("get_vs_bare_select", "GET /orders/{id}, req/s ÷ bare SELECT", Goal.AT_LEAST, 0.5),
    Target(
        "fulfillment_vs_raw_workflow",
        "orders completed/s ÷ raw 3-activity workflow",
        Goal.AT_LEAST,
        0.8,
    ),
    Target("start_lag_p99_s", "start lag p99, seconds", Goal.AT_MOST, 1.0),
    Target("idle_pss_mb", "idle stack after load, MB PSS", Goal.AT_MOST, 800.0),
)

PAIR_LABELS = {
    "get": ("GET /orders/{id}", "SELECT by id"),
    "replay": ("POST /orders, same key (replay)", "INSERT"),
    "intake": ("POST /orders, new key", "INSERT"),
}


def machine() -> dict[str, Any]:
    """What the run ran on, recorded in the results so the report can be rendered later."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": psutil.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / GIB,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _num(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "n/a"


def _quotient(value: Any, base: Any) -> float | None:
    if isinstance(value, int | float) and isinstance(base, int | float) and base:
        return float(value) / float(base)
    return None


def throughput_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| path | req/s | p50 ms | p99 ms | bare baseline | req/s | p99 ms | req/s ÷ bare "
        "| p99 ÷ bare |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for pair, by_target in results.get("medians", {}).items():
        service, bare = by_target.get("service") or {}, by_target.get("bare") or {}
        label, bare_label = PAIR_LABELS.get(pair, (pair, "bare"))
        lines.append(
            f"| {label} | {_num(service.get('rps'), '.1f')} | {_num(service.get('p50'), '.1f')} "
            f"| {_num(service.get('p99'), '.1f')} | {bare_label} | {_num(bare.get('rps'), '.1f')} "
            f"| {_num(bare.get('p99'), '.1f')} "
            f"| {_num(_quotient(service.get('rps'), bare.get('rps')), '.3f')} "
            f"| {_num(_quotient(service.get('p99'), bare.get('p99')), '.2f')} |"
        )
    return lines


def fulfilment_table(results: dict[str, Any]) -> list[str]:
    """The engine's own rates beside the orders' burst, all drained on the same server."""
    engine, orders = results.get("engine") or {}, results.get("order_burst") or {}
    if not engine and not orders:
        return ["Not measured in this run."]
    raw = engine.get("raw_workflow") or {}
    lines = ["| what | rate /s | detail |", "|---|---:|---|"]
    if engine:
        lines += [
            f"| raw Temporal starts | {_num(engine.get('starts_per_second'), '.1f')} "
            f"| {engine.get('start_burst', 'n/a')} trivial workflows, "
            f"{engine.get('start_concurrency', 'n/a')} at a time |",
            f"| raw 3-activity workflow, completed | {_num(raw.get('per_second'), '.1f')} "
            f"| {raw.get('finished', 'n/a')}/{raw.get('runs', 'n/a')} in "
            f"{_num(raw.get('seconds'), '.1f')} s, {raw.get('history_events_per_run', 'n/a')} "
            "history events each |",
        ]
    if orders:
        lines.append(
            f"| orders, accepted to COMPLETED | {_num(orders.get('completed_per_second'), '.1f')} "
            f"| {orders.get('completed', 'n/a')}/{orders.get('orders', 'n/a')} offered at "
            f"{_num(orders.get('offered_per_second'), '.0f')}/s, in "
            f"{_num(orders.get('drain_seconds'), '.1f')} s, "
            f"{orders.get('history_events_per_order', 'n/a')} history events each; start lag "
            f"p50 {_num(orders.get('start_lag_p50_s'), '.2f')} s, "
            f"p99 {_num(orders.get('start_lag_p99_s'), '.2f')} s |"
        )
    return lines


def ratios_table(results: dict[str, Any]) -> list[str]:
    ratios = results.get("ratios", {})
    missing = ratios.get("missing") or {}
    lines = ["| ratio | what | measured | target | |", "|---|---|---:|---:|---|"]
    for target in TARGETS:
        value = ratios.get(target.key)
        if isinstance(value, int | float):
            verdict = "met" if target.met(value) else "**not met**"
            shown = _num(value, ".1f" if target.key == "idle_pss_mb" else ".3f")
        else:
            verdict = f"not measured: {missing.get(target.key, 'no figure in this run')}"
            shown = "n/a"
        lines.append(
            f"| `{target.key}` | {target.what} | {shown} | {target.goal} {target.bound:g} "
            f"| {verdict} |"
        )
    return lines


def memory_table(memory: dict[str, Any]) -> list[str]:
    lines = ["| part | processes | PSS MB | USS MB | RSS MB |", "|---|---:|---:|---:|---:|"]
    for part in memory.get("parts", []):
        kinds = part.get("kinds_pss_mb") or {}
        detail = ""
        if kinds:
            detail = " (" + ", ".join(f"{k} {v:.1f}" for k, v in kinds.items()) + ")"
        lines.append(
            f"| {part['name']}{detail} | {part['processes']} | {part['pss_mb']:.1f} "
            f"| {part['uss_mb']:.1f} | {part['rss_mb']:.1f} |"
        )
    lines.append(f"| **total** | | **{memory.get('total_pss_mb', 0.0):.1f}** | | |")
    return lines


def _service_cpu(results: dict[str, Any], pair: str) -> dict[str, Any] | None:
    """The CPU measured during the first repetition of a pair's service scenario."""
    found = (results.get("cpu") or {}).get(f"{pair}/service/0")
    return dict(found) if found else None


def limit_of_path(label: str, cpu: dict[str, Any], requests: float | None) -> str:
    """One sentence on what limited a path, judged from the cores each part used."""
    cores: dict[str, float] = cpu.get("cores") or {}
    cpus = int(cpu.get("cpus") or 1)
    busy = float(cpu.get("machine_busy_cores") or 0.0)
    ranked = sorted(cores.items(), key=lambda item: -item[1])[:3]
    shares = ", ".join(f"{name} {used:.2f}" for name, used in ranked)
    top_name, top_used = ranked[0] if ranked else ("no part", 0.0)
    if busy >= SATURATED_CORES * cpus:
        verdict = f"the machine: {busy:.2f} of its {cpus} cores were busy"
        k6 = cpu.get("load_generator_cores")
        if isinstance(k6, int | float):
            # Whatever neither k6 nor the stack used ran beside the bench: the bare app, the
            # bench itself, or other work on the machine.
            stack = sum(cores.values())
            verdict += (
                f" (the stack {stack:.2f}, k6 {k6:.2f}, everything else "
                f"{max(busy - stack - k6, 0.0):.2f})"
            )
    elif top_used >= SATURATED_CORES:
        verdict = f"{top_name}, at {top_used:.2f} cores"
    else:
        verdict = (
            f"waiting rather than CPU: the machine was {busy:.2f} of {cpus} cores busy and no "
            "part used a whole core"
        )
    per_request = ""
    api = cores.get("API")
    wall = cpu.get("wall_seconds")
    if api is not None and requests and isinstance(wall, int | float):
        per_request = f"; the API spent {api * wall / requests * 1000:.1f} ms of CPU a request"
    return f"- **{label}**: limited by {verdict}. Cores used (first run): {shares}{per_request}."


def limits_section(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    rows = results.get("rows") or []
    for pair in results.get("medians", {}):
        cpu = _service_cpu(results, pair)
        if cpu is None:
            continue
        requests = next(
            (
                float(r["requests"])
                for r in rows
                if r.get("pair") == pair and r.get("target") == "service" and r.get("rep") == 0
            ),
            None,
        )
        lines.append(limit_of_path(PAIR_LABELS.get(pair, (pair, ""))[0], cpu, requests))
    flow = (results.get("counts") or {}).get("workflows") or {}
    if flow:
        lines.append(
            f"- **fulfilment**: {flow.get('finished_per_second', 0.0):.1f} orders finished per "
            f"second with no new load, in the {flow.get('drain_seconds', 0.0):.0f} s after it."
        )
    memory = results.get("memory") or {}
    parts = memory.get("parts") or []
    if parts:
        largest = ", ".join(f"{p['name']} {p['pss_mb']:.0f} MB" for p in parts[:3])
        settled = memory.get("settled") or {}
        running = memory.get("workflows_still_running")
        if settled.get("still_running"):
            still = (
                f", after stopping what was still in flight ({settled.get('terminated', 0)} "
                f"workflows terminated, {settled.get('unstarted_dropped', 0)} unstarted orders "
                "dropped)"
            )
        elif running:
            still = f", with {running} workflows still running"
        else:
            still = ", no workflow running"
        lines.append(
            f"- **memory**: {memory.get('total_pss_mb', 0.0):.0f} MB PSS in "
            f"{sum(p['processes'] for p in parts)} processes, "
            f"{memory.get('idle_seconds', 0):.0f} s after the load and the wait for the "
            f"workflows{still}; "
            f"the largest parts: {largest}."
        )
    return lines or ["- No scenario was measured in this run."]


HOW_TO_READ = """\
Everything above shares one machine: k6, the API, the bare baseline app, PostgreSQL, the Temporal
dev server, the workers and the simulators. Absolute figures say as much about the machine as
about the code, so the ratios to the bare baselines from the same run are the result, and even
they move by some 10 to 20% between runs. A part's cores are a lower bound (a process that exits
during a scenario takes its CPU time with it); the machine's figure counts everything on it.
PSS charges shared pages to the processes sharing them in equal parts, so the memory figures add
up to what the stack holds. `bench/README.md` describes the scenarios."""


def render(results: dict[str, Any], source: str) -> str:
    host = results.get("machine") or {}
    ram = host.get("memory_gib")
    lines = [
        "# Load test report",
        "",
        f"Written by `make bench` from `{source}`; the run started "
        f"{results.get('started_at', 'n/a')}.",
        "",
        f"- **Machine:** {host.get('cpu_model', 'n/a')}, {host.get('cpus', 'n/a')} cores, "
        f"{_num(ram, '.1f')} GiB RAM ({host.get('system', 'n/a')}, Python "
        f"{host.get('python', 'n/a')}).",
        f"- **Load:** k6 at {results.get('vus', 'n/a')} virtual users, "
        f"{results.get('duration', 'n/a')} per run, {results.get('reps', 'n/a')} alternating "
        "repetitions per pair; medians below.",
    ]
    failures = results.get("failures") or []
    if failures:
        lines.append(f"- **Failures in this run:** {len(failures)} (listed in the JSON).")
    lines += ["", "## Throughput and latency", "", *throughput_table(results)]
    lines += ["", "## Fulfilment against the raw engine", "", *fulfilment_table(results)]
    lines += ["", "## Ratios and targets", "", *ratios_table(results)]
    memory = results.get("memory")
    if memory:
        lines += [
            "",
            "## Idle memory after the load, by PSS",
            "",
            *memory_table(memory),
        ]
    lines += ["", "## What limits each path", "", *limits_section(results)]
    lines += ["", "## How to read it", "", HOW_TO_READ, ""]
    return "\n".join(lines)


def write(results: dict[str, Any], source: str, path: Path = REPORT) -> Path:
    path.write_text(render(results, source))
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: bench/report.py RESULTS.json", file=sys.stderr)
        return 2
    source = Path(args[0])
    results = json.loads(source.read_text())
    shown = source.resolve().relative_to(BENCH_DIR.parent) if source.is_absolute() else source
    print(write(results, str(shown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
