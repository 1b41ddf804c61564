"""`make bench`: the Order API under load, on a stack of its own, against bare baselines.

Absolute timings on a shared two-core machine mostly measure the machine, so each service
scenario is paired with a bare FastAPI + psycopg app (bench/bare_app.py) doing one statement on
the same PostgreSQL, the two alternating over several repetitions; the medians and their ratios
are the result. k6 fails the run on errors only; no figure here is a pass/fail limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psutil
import psycopg
from temporalio.client import Client

from processes.devstack.ports import free_port
from workflows.contracts import WORKFLOW_NAME

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bare_app
import burst
import cpu
import engine
import memory
import report
from stack_parts import find_parts

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 150.0
STOP_TIMEOUT_SECONDS = 60.0
WARMUP_REQUESTS = 20
TREND_STATS = "avg,min,med,p(90),p(95),p(99),max"
MIB = 1024 * 1024
# The order burst is offered at this share of the raw Temporal start rate measured just before.
OFFERED_SHARE_OF_START_RATE = 0.5
# After the load and the drain, before the stack's memory is read: the pools and caches it
# keeps when idle, not the buffers of requests still finishing.
IDLE_SECONDS = 5.0
# The most the bench waits, after the drain, for the last workflows before reading memory.
IDLE_WAIT_SECONDS = 30.0

ORDER_BODY: dict[str, Any] = {
    "items": [{"sku": "GIZMO-3", "quantity": 1}],
    "currency": "USD",
    "payment_method": "tok_visa",
    "shipping_address": {
        "name": "Bench Customer",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    },
}


class Target(StrEnum):
    SERVICE = "service"
    BARE = "bare"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    script: str
    target: Target = Target.SERVICE


HEALTH = Scenario("baseline", "GET /health/live", "health_live.js")
BARE_SELECT = Scenario("bare_select", "bare SELECT by id", "bare_select.js", Target.BARE)
BARE_INSERT = Scenario("bare_insert", "bare INSERT", "bare_insert.js", Target.BARE)


@dataclass(frozen=True)
class Pair:
    """A service scenario and the bare baseline it is judged against, run alternately."""

    name: str
    service: Scenario
    bare: Scenario


# Run in this order: the new orders go last because their workflows keep the worker (and
# PostgreSQL) busy for a while after k6 stops, which would load every scenario after them.
PAIRS = (
    Pair("get", Scenario("get_order", "GET /orders/{id}", "get_order.js"), BARE_SELECT),
    Pair(
        "replay",
        Scenario("replay", "POST /orders, same key (replay)", "replay_order.js"),
        BARE_INSERT,
    ),
    Pair(
        "intake", Scenario("create_order", "POST /orders, new key", "create_order.js"), BARE_INSERT
    ),
)


@dataclass(frozen=True)
class Ports:
    api: int
    postgres: int
    temporal: int
    temporal_ui: int
    payment_gateway: int
    carrier: int
    bare: int

    @classmethod
    def pick(cls) -> Ports:
        chosen: set[int] = set()
        while len(chosen) < 7:
            chosen.add(free_port())
        return cls(*sorted(chosen))


@dataclass
class RssSampler:
    """Peak resident memory of the API process, overall and per scenario."""

    process: psutil.Process
    interval: float = 0.1
    current: str = "idle"
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            with suppress(psutil.Error):
                rss = int(self.process.memory_info().rss)
                self.peaks[self.current] = max(self.peaks.get(self.current, 0), rss)
            self._stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class BenchStack:
    """`order-api run` on free ports in a temporary data directory: the real stack, untouched."""

    def __init__(self, data_dir: Path, ports: Ports) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.log_file = data_dir / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_pids: dict[int, float] = {}
        # Without ORDER_API_* or server URLs from the caller's shell: a DATABASE_URL there would
        # point the bench at someone's real database instead of its own.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ORDER_API_") and k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")
        }
        self.env.update(
            ORDER_API_DATA_DIR=str(data_dir),
            ORDER_API_API_HOST=HOST,
            ORDER_API_API_PORT=str(ports.api),
            ORDER_API_POSTGRES_PORT=str(ports.postgres),
            ORDER_API_TEMPORAL_PORT=str(ports.temporal),
            ORDER_API_TEMPORAL_UI_PORT=str(ports.temporal_ui),
            ORDER_API_PAYMENT_GATEWAY_PORT=str(ports.payment_gateway),
            ORDER_API_CARRIER_PORT=str(ports.carrier),
            # One principal sends every request: the per-customer limit would turn the run into
            # a measurement of 429s. The bench measures the service, not the limiter.
            ORDER_API_RATE_LIMIT_ORDERS_PER_MINUTE=str(10**9),
            # Likewise the intake scenario accepts orders faster than the engine starts them, so
            # past the default backlog bound it would measure 503s (load shedding, which the
            # relay tests cover), not the accepting transaction.
            ORDER_API_MAX_START_BACKLOG=str(10**9),
            # Any free port, so the bench's worker never collides with a running `make run`'s.
            ORDER_API_WORKER_METRICS_PORT="0",
            ORDER_API_RELAY_METRICS_PORT="0",
        )

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.api}"

    @property
    def database_dsn(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.ports.postgres}/orders"

    def start(self) -> None:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "order-api"), "run"],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"order-api run exited:\n{_tail(self.log_file)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack was not ready in time:\n{_tail(self.log_file)}")
            time.sleep(0.5)
        self._remember_processes()

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _remember_processes(self) -> None:
        """Everything this run started, so the stop can prove that none of it is left."""
        assert self.process is not None
        found = psutil.Process(self.process.pid).children(recursive=True)
        # pg_ctl daemonizes PostgreSQL, so it is no child of ours: find it by its pid file.
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        with suppress(OSError, ValueError, IndexError, psutil.Error):
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            found += [postmaster, *postmaster.children(recursive=True)]
        for proc in [psutil.Process(self.process.pid), *found]:
            with suppress(psutil.Error):
                self.started_pids[proc.pid] = proc.create_time()

    def api_process(self) -> psutil.Process:
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with suppress(psutil.Error):
                if "api.main:app" in child.cmdline():
                    return child
        raise RuntimeError("no API process under order-api run")

    def token(self, subject: str) -> str:
        return subprocess.run(
            [str(BIN / "order-api"), "token", "--sub", subject, "--ttl", "3600"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def stop(self) -> list[str]:
        """SIGTERM to `order-api run`, which stops its services in order; returns leftovers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        left: list[str] = []
        deadline = time.monotonic() + 10
        for pid, created in self.started_pids.items():
            try:
                proc = psutil.Process(pid)
                # The same pid with another start time is a new, unrelated process.
                if proc.create_time() != created:
                    continue
                with suppress(psutil.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {' '.join(proc.cmdline())[:80]}")
                    proc.kill()
            except psutil.NoSuchProcess:
                continue
        return left


def raise_stock(stack: BenchStack) -> None:
    """Enough stock that no benchmark order fails to reserve, so every workflow does the
    same work; the bench's own throwaway database, never a shared one."""
    with psycopg.connect(stack.database_dsn, autocommit=True) as conn:
        conn.execute("UPDATE products SET stock = 100000000")


def place_order(client: httpx.Client, token: str, key: str) -> dict[str, Any]:
    response = client.post(
        "/orders",
        json=ORDER_BODY,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def warm_up(stack: BenchStack, token: str, run_id: str) -> str:
    """First requests pay for imports, pool connections and plan caches; k6 should not."""
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        order_id = str(place_order(client, token, f"{run_id}-replayed")["id"])
        auth = {"Authorization": f"Bearer {token}"}
        for n in range(WARMUP_REQUESTS):
            client.get("/health/live").raise_for_status()
            client.get(f"/orders/{order_id}", headers=auth).raise_for_status()
            place_order(client, token, f"{run_id}-replayed")
            if n < 5:
                place_order(client, token, f"{run_id}-warmup-{n}")
    return order_id


def run_k6(
    scenario: Scenario, env: dict[str, str], work_dir: Path
) -> tuple[int, dict[str, Any], Path]:
    summary = work_dir / f"{scenario.name}.json"
    output = work_dir / f"{scenario.name}.k6.log"
    command = [
        str(BIN / "k6"), "run", "--quiet", "--no-color", "--no-usage-report",
        # k6's own control API is not needed and would take a fixed port.
        "--address", "",
        "--summary-trend-stats", TREND_STATS,
        "--summary-export", str(summary),
        str(BENCH_DIR / scenario.script),
    ]  # fmt: skip
    with output.open("wb") as log:
        code = subprocess.run(
            command,
            cwd=BENCH_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        ).returncode
    data: dict[str, Any] = json.loads(summary.read_text()) if summary.exists() else {}
    return code, data, output


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    rep: int
    requests: int
    rps: float
    p50: float
    p95: float
    p99: float
    error_rate: float
    rss_peak: int

    @classmethod
    def from_summary(cls, scenario: Scenario, rep: int, data: dict[str, Any], rss_peak: int) -> Row:
        metrics = data.get("metrics", {})
        reqs = metrics.get("http_reqs", {})
        duration = metrics.get("http_req_duration", {})
        failed = metrics.get("http_req_failed", {})
        return cls(
            scenario,
            rep,
            int(reqs.get("count", 0)),
            float(reqs.get("rate", 0.0)),
            float(duration.get("med", 0.0)),
            float(duration.get("p(95)", 0.0)),
            float(duration.get("p(99)", 0.0)),
            float(failed.get("value", 1.0)),
            rss_peak,
        )


@dataclass(frozen=True)
class Medians:
    rps: float
    p50: float
    p99: float
    reps: int

    @classmethod
    def of(cls, rows: list[Row]) -> Medians | None:
        if not rows:
            return None
        return cls(
            median(r.rps for r in rows),
            median(r.p50 for r in rows),
            median(r.p99 for r in rows),
            len(rows),
        )


def medians_by_pair(rows: dict[str, list[Row]]) -> dict[str, dict[Target, Medians | None]]:
    return {
        pair.name: {
            Target.SERVICE: Medians.of(rows.get(f"{pair.name}/{Target.SERVICE}", [])),
            Target.BARE: Medians.of(rows.get(f"{pair.name}/{Target.BARE}", [])),
        }
        for pair in PAIRS
    }


def _quotient(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def ratios(
    medians: dict[str, dict[Target, Medians | None]],
    raw: engine.EngineResult | None = None,
    orders: burst.BurstResult | None = None,
) -> dict[str, Any]:
    def rps(pair: str, target: Target) -> float | None:
        found = medians[pair][target]
        return found.rps if found else None

    def p99(pair: str, target: Target) -> float | None:
        found = medians[pair][target]
        return found.p99 if found else None

    return {
        "intake_vs_bare_insert": _quotient(
            rps("intake", Target.SERVICE), rps("intake", Target.BARE)
        ),
        "intake_p99_vs_bare_p99": _quotient(
            p99("intake", Target.SERVICE), p99("intake", Target.BARE)
        ),
        "replay_vs_bare_insert": _quotient(
            rps("replay", Target.SERVICE), rps("replay", Target.BARE)
        ),
        "get_vs_bare_select": _quotient(rps("get", Target.SERVICE), rps("get", Target.BARE)),
        **burst.ratios(raw, orders),
        "idle_pss_mb": None,
        "missing": {
            "idle_pss_mb": "per-process PSS after load is not sampled yet",
        },
    }


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "n/a"


def table(medians: dict[str, dict[Target, Medians | None]], health: Row | None) -> str:
    header = (
        f"{'scenario (medians)':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'bare':>14}{'req/s':>9}{'p99 ms':>9}{'req/s÷bare':>12}{'p99÷bare':>10}"
    )
    lines = [header, "-" * len(header)]
    for pair in PAIRS:
        svc, bare = medians[pair.name][Target.SERVICE], medians[pair.name][Target.BARE]
        lines.append(
            f"{pair.service.label:<34}{_fmt(svc and svc.rps, '.1f'):>9}"
            f"{_fmt(svc and svc.p50, '.2f'):>9}{_fmt(svc and svc.p99, '.2f'):>9}"
            f"{pair.bare.label.removeprefix('bare '):>14}{_fmt(bare and bare.rps, '.1f'):>9}"
            f"{_fmt(bare and bare.p99, '.2f'):>9}"
            f"{_fmt(_quotient(svc and svc.rps, bare and bare.rps), '.3f'):>12}"
            f"{_fmt(_quotient(svc and svc.p99, bare and bare.p99), '.2f'):>10}"
        )
    if health is not None:
        lines.append(
            f"{health.scenario.label:<34}{health.rps:>9.1f}{health.p50:>9.2f}{health.p99:>9.2f}"
        )
    return "\n".join(lines)


class BareApp:
    """bench/bare_app.py under uvicorn, started like the API (one process, the same HTTP
    implementation and event loop), on the bench stack's PostgreSQL."""

    def __init__(self, stack: BenchStack, log_file: Path) -> None:
        self.stack = stack
        self.port = stack.ports.bare
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.row_id = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self) -> None:
        with psycopg.connect(self.stack.database_dsn, autocommit=True) as conn:
            conn.execute(bare_app.SCHEMA)
            row = conn.execute(
                f"INSERT INTO {bare_app.TABLE} (customer_id, body) VALUES (%s, %s) RETURNING id",
                ("bench", psycopg.types.json.Jsonb(ORDER_BODY)),
            ).fetchone()
        assert row is not None
        self.row_id = int(row[0])

    def start(self) -> None:
        self.prepare()
        env = {**self.stack.env, "BENCH_BARE_DSN": self.stack.database_dsn}
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bare_app:app",
                    "--app-dir",
                    str(BENCH_DIR),
                    "--host",
                    HOST,
                    "--port",
                    str(self.port),
                    "--http",
                    "h11",
                    "--no-access-log",
                ],
                cwd=BENCH_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/select/{self.row_id}", timeout=2.0).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare app did not start:\n{_tail(self.log_file)}")
            time.sleep(0.3)

    def warm_up(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30.0) as client:
            for _ in range(WARMUP_REQUESTS):
                client.get(f"/select/{self.row_id}").raise_for_status()
                client.post("/insert", json=ORDER_BODY).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Profiler:
    """py-spy samples of the API while one scenario runs, as collapsed stacks."""

    def __init__(self, out_dir: Path, pid: int) -> None:
        self.out_dir = out_dir
        self.pid = pid
        self.process: subprocess.Popen[bytes] | None = None

    @contextmanager
    def recording(self, name: str) -> Iterator[None]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        output = self.out_dir / f"{name}.collapsed"
        self.process = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--output",
                str(output),
                "--nonblocking",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            # SIGINT makes py-spy write what it has sampled so far.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            _say(f"profile: {output}")


async def count_workflows(client: Client) -> dict[str, int]:
    # Orders' workflows only: the raw bursts ran on the same server.
    orders = f"WorkflowType = '{WORKFLOW_NAME}'"
    counts = {"total": (await client.count_workflows(orders)).count}
    for status in ("Running", "Completed", "Failed"):
        found = await client.count_workflows(f"{orders} AND ExecutionStatus = '{status}'")
        counts[status.lower()] = found.count
    return counts


async def follow_fulfilment(temporal_port: int, drain_seconds: float) -> dict[str, Any]:
    """Workflows when the load stops, then after the worker has had a bounded time to catch
    up: intake is far cheaper than fulfilment, so the backlog is part of the picture."""
    client = await Client.connect(f"{HOST}:{temporal_port}")
    at_end = await count_workflows(client)
    started = time.monotonic()
    latest = at_end
    while latest["running"] and time.monotonic() - started < drain_seconds:
        await asyncio.sleep(2)
        latest = await count_workflows(client)
    waited = time.monotonic() - started
    done = latest["completed"] + latest["failed"] - at_end["completed"] - at_end["failed"]
    return {
        "at_end_of_load": at_end,
        "after_drain": latest,
        "drain_seconds": waited,
        "finished_per_second": done / waited if waited else 0.0,
    }


def count_orders(stack: BenchStack) -> dict[str, int]:
    with psycopg.connect(stack.database_dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE workflow_started_at IS NULL) FROM orders"
        ).fetchone()
    assert row is not None
    return {"orders": int(row[0]), "workflow_start_unconfirmed": int(row[1])}


def fulfilment(
    stack: BenchStack, work_dir: Path, runs: int
) -> tuple[engine.EngineResult, burst.BurstResult]:
    """The raw Temporal start rate and three-activity workflow, then the order burst."""
    address = f"{HOST}:{stack.ports.temporal}"
    _say(f"raw Temporal: {runs} trivial starts, then {runs} three-activity workflows")
    raw = engine.measure(address, work_dir, runs)
    # Offered below the engine's start rate, where the target on start lag applies; still far
    # above what fulfilment completes, so the completion rate is the workers' ceiling.
    offered = raw.starts_per_second * OFFERED_SHARE_OF_START_RATE
    _say(f"order burst: {runs} orders at {offered:.0f}/s, drained to COMPLETED")
    customer = f"bench-burst-{uuid.uuid4().hex[:8]}"
    orders = burst.measure(
        stack.api_url,
        stack.database_dsn,
        stack.token(customer),
        customer,
        ORDER_BODY,
        orders=runs,
        per_second=offered,
        history_events=lambda workflow_id: engine.history_events_sync(address, workflow_id),
    )
    return raw, orders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vus", type=int, default=32, help="virtual users per scenario")
    parser.add_argument("--duration", default="10s", help="k6 duration per scenario and rep")
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions per pair")
    parser.add_argument(
        "--drain",
        type=float,
        default=20.0,
        help="seconds to let the worker catch up with the new orders afterwards",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=200,
        help="workflows in each raw Temporal burst and orders in the order burst",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="directory for py-spy profiles of the API during the first rep of each scenario",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data dir (logs) afterwards"
    )
    args = parser.parse_args(argv)

    started_at = datetime.now(UTC)
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="order-api-bench-"))
    stack = BenchStack(data_dir, Ports.pick())
    bare = BareApp(stack, data_dir / "bare_app.log")
    rows: dict[str, list[Row]] = {}
    health: Row | None = None
    summaries: dict[str, Any] = {}
    failures: list[str] = []
    counts: dict[str, Any] = {}
    rss: dict[str, int] = {}
    raw: engine.EngineResult | None = None
    orders: burst.BurstResult | None = None
    cpu_by_run: dict[str, dict[str, Any]] = {}
    idle_memory: dict[str, Any] = {}
    try:
        _say(f"starting the stack in {data_dir} (API on {stack.api_url})")
        t0 = time.monotonic()
        stack.start()
        _say(f"ready in {time.monotonic() - t0:.1f}s")
        raise_stock(stack)
        bare.start()
        bare.warm_up()
        token = stack.token("bench")
        order_id = warm_up(stack, token, run_id)
        # Before the k6 scenarios: new orders at 32 VUs leave a backlog of workflows behind them,
        # and these figures are of an idle engine.
        raw, orders = fulfilment(stack, data_dir, args.burst)
        api = stack.api_process()
        sampler = RssSampler(api)
        profiler = Profiler(args.profile, api.pid) if args.profile else None
        k6_env = {
            **stack.env,
            "K6_NO_USAGE_REPORT": "true",
            "BASE_URL": stack.api_url,
            "BARE_URL": bare.url,
            "BARE_ID": str(bare.row_id),
            "TOKEN": token,
            "ORDER_ID": order_id,
            "REPLAY_KEY": f"{run_id}-replayed",
            "ORDER_BODY": json.dumps(ORDER_BODY),
            "VUS": str(args.vus),
            "DURATION": args.duration,
        }

        def parts() -> list[Any]:
            assert stack.process is not None
            return find_parts(stack.process.pid, data_dir / "postgres")

        def measure(scenario: Scenario, rep: int, key: str) -> Row:
            sampler.current = scenario.name
            _say(f"k6: {scenario.label} (rep {rep + 1}), {args.vus} VUs for {args.duration}")
            # RUN_ID per rep keeps new-order keys unique across reps, so none is a replay.
            env = {**k6_env, "RUN_ID": f"{run_id}-{key}-{rep}"}
            recording: AbstractContextManager[None] = nullcontext()
            if profiler is not None and rep == 0 and scenario.target is Target.SERVICE:
                recording = profiler.recording(scenario.name)
            with recording, cpu.measuring(parts) as cpu_use:
                code, summary, output = run_k6(scenario, env, data_dir)
            summaries[f"{key}/{scenario.name}/{rep}"] = summary
            cpu_by_run[f"{key}/{scenario.target}/{rep}"] = cpu_use
            if code != 0:
                failures.append(f"{scenario.label}: k6 exited {code}\n{_tail(output, 40)}")
            return Row.from_summary(scenario, rep, summary, sampler.peaks.get(scenario.name, 0))

        with sampler.running():
            time.sleep(0.5)
            health = measure(HEALTH, 0, "health")
            for pair in PAIRS:
                for rep in range(args.reps):
                    # Alternating which goes first, so neither always runs on a warmer machine.
                    order = (pair.service, pair.bare) if rep % 2 == 0 else (pair.bare, pair.service)
                    for scenario in order:
                        row = measure(scenario, rep, pair.name)
                        rows.setdefault(f"{pair.name}/{scenario.target}", []).append(row)
        rss = dict(sampler.peaks)
        _say(f"letting the worker catch up for up to {args.drain:.0f}s")
        counts = {
            **count_orders(stack),
            "workflows": asyncio.run(follow_fulfilment(stack.ports.temporal, args.drain)),
        }
        # The bare app is no part of the stack; its connections would count in PostgreSQL.
        bare.stop()
        _say(f"waiting up to {IDLE_WAIT_SECONDS:.0f}s for the workflows to finish")
        settled = memory.settle(
            f"{HOST}:{stack.ports.temporal}", stack.database_dsn, IDLE_WAIT_SECONDS
        )
        if settled.still_running:
            _say(
                f"stopped what was still in flight: {settled.terminated} workflows terminated, "
                f"{settled.unstarted_dropped} unstarted orders dropped"
            )
        _say(f"idling {IDLE_SECONDS:.0f}s, then reading each process's memory")
        time.sleep(IDLE_SECONDS)
        idle_memory = memory.as_json(
            memory.measure(parts()), IDLE_SECONDS, settled.still_running, settled
        )
    except Exception as exc:
        failures.append(f"bench aborted: {exc}")
    finally:
        _say("stopping the bare app and the stack")
        bare.stop()
        left = stack.stop()
        if left:
            failures.append("processes left after the stop (killed): " + "; ".join(left))
        else:
            _say(f"stopped; none of the {len(stack.started_pids)} processes it started is left")
        if args.keep:
            _say(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    medians = medians_by_pair(rows)
    result_ratios = ratios(medians, raw, orders)
    if idle_memory:
        memory.record_idle_pss(result_ratios, idle_memory)
    if rows:
        print(table(medians, health))
        print("\n".join(burst.table_rows(raw, orders)))
        print()
        print(
            "ratios: "
            + ", ".join(f"{k}={v:.3f}" for k, v in result_ratios.items() if isinstance(v, float))
        )
        print(
            f"API peak RSS: {max(rss.values(), default=0) / MIB:.1f} MiB "
            f"(after warm-up, before load: {rss.get('idle', 0) / MIB:.1f} MiB)"
        )
    if idle_memory:
        print()
        print(memory.table(idle_memory))
    if counts:
        flow = counts["workflows"]
        at_end, after = flow["at_end_of_load"], flow["after_drain"]
        print(
            f"orders in the database: {counts['orders']} "
            f"(workflow start unconfirmed: {counts['workflow_start_unconfirmed']}); "
            # Temporal's visibility lags a little; the later count is the settled one.
            f"workflows started: {after['total']}"
        )
        print(
            f"workflows when the load stopped: {at_end['completed']} completed, "
            f"{at_end['running']} running, {at_end['failed']} failed; "
            f"{flow['drain_seconds']:.0f}s later: {after['completed']} completed, "
            f"{after['running']} running, {after['failed']} failed "
            f"({flow['finished_per_second']:.1f} finished/s with no new load)"
        )
    RESULTS_DIR.mkdir(exist_ok=True)
    result_file = RESULTS_DIR / f"{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    result_file.write_text(
        json.dumps(
            {
                "started_at": started_at.isoformat(),
                "machine": report.machine(),
                "cpus": os.cpu_count(),
                "vus": args.vus,
                "duration": args.duration,
                "reps": args.reps,
                "order_body": ORDER_BODY,
                "ratios": result_ratios,
                "medians": {
                    pair: {str(t): (vars(m) if m else None) for t, m in by_target.items()}
                    for pair, by_target in medians.items()
                },
                "rows": [
                    {
                        "pair": key.split("/")[0],
                        "scenario": r.scenario.name,
                        "target": str(r.scenario.target),
                        "rep": r.rep,
                        "requests": r.requests,
                        "rps": r.rps,
                        "p50_ms": r.p50,
                        "p95_ms": r.p95,
                        "p99_ms": r.p99,
                        "error_rate": r.error_rate,
                    }
                    for key, reps in rows.items()
                    for r in reps
                ],
                "health": vars(health) | {"scenario": health.scenario.name} if health else None,
                "api_rss_peak_bytes": rss,
                "counts": counts,
                "engine": raw.as_json() if raw else None,
                "order_burst": orders.as_json() if orders else None,
                "memory": idle_memory,
                "cpu": cpu_by_run,
                "k6": summaries,
                "failures": failures,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"results: {result_file.relative_to(ROOT)}")
    # From the file, so the report shows exactly what a kept result holds.
    shown = str(result_file.relative_to(ROOT))
    print(f"report: {report.write(json.loads(result_file.read_text()), shown).relative_to(ROOT)}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
