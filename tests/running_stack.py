"""`order-api run` as a user starts it, on free ports in a directory of its own, to break.

The outage tests and the worker-kill measurement drive the real supervisor: they find its
children by command line, kill them as an operator or the kernel would, and read the orders' fate
from the stack's own database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from foundation.domain import OrderStatus
from processes.devstack.ports import free_port

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 120.0
TERMINAL = (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED)
# The log each supervised child writes to: the two workers share a command line, not a log.
CHILD_LOGS = {
    "worker-1": "worker-1.log",
    "worker-2": "worker-2.log",
    "API": "api.log",
    "Temporal": "temporal.log",
    "simulators": "simulators.log",
}


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class OrderOutcome:
    status: OrderStatus
    seconds: float


class RunningStack:
    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.data_dir = data_dir
        self.log_file = data_dir / "stack.log"
        self.api_port = free_port()
        self.postgres_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Nothing from the caller's shell: a DATABASE_URL there would aim at someone's database.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ORDER_API_") and k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")
        }
        self.env.update(
            ORDER_API_DATA_DIR=str(data_dir),
            ORDER_API_API_HOST=HOST,
            ORDER_API_API_PORT=str(self.api_port),
            ORDER_API_POSTGRES_PORT=str(self.postgres_port),
            ORDER_API_TEMPORAL_PORT=str(free_port()),
            ORDER_API_TEMPORAL_UI_PORT=str(free_port()),
            ORDER_API_PAYMENT_GATEWAY_PORT=str(free_port()),
            ORDER_API_CARRIER_PORT=str(free_port()),
            # 0: each worker takes a free port, so a stack here never collides with `make run`.
            ORDER_API_WORKER_METRICS_PORT="0",
            ORDER_API_RELAY_METRICS_PORT="0",
            ORDER_API_RETRY_PROFILE="demo",
            ORDER_API_RATE_LIMIT_ORDERS_PER_MINUTE=str(10**9),
            **{f"ORDER_API_{name.upper()}": value for name, value in settings.items()},
        )
        self._token: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def database_dsn(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.postgres_port}/orders"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "order-api"), "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"order-api run exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack was not ready in time:\n{self.output()}")
            time.sleep(0.5)

    def output(self) -> str:
        return _tail(self.log_file)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def child_pid(self, name: str) -> int | None:
        assert self.process is not None
        log_file = (self.data_dir / "logs" / CHILD_LOGS[name]).resolve()
        with suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children():
                with suppress(OSError):
                    if Path(os.readlink(f"/proc/{child.pid}/fd/1")) == log_file:
                        return child.pid
        return None

    def postmaster_pid(self) -> int | None:
        with suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
            if psutil.pid_exists(pid):
                return pid
        return None

    def kill(self, name: str) -> int:
        """SIGKILL one child (or the PostgreSQL postmaster); its pid."""
        pid = self.postmaster_pid() if name == "PostgreSQL" else self.child_pid(name)
        assert pid is not None, f"no {name} running:\n{self.output()}"
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_for_new(self, name: str, old_pid: int, timeout: float = 30.0) -> int:
        """The pid of the child that replaced `old_pid`, once it is running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.postmaster_pid() if name == "PostgreSQL" else self.child_pid(name)
            if pid is not None and pid != old_pid:
                return pid
            time.sleep(0.1)
        raise AssertionError(f"{name} was not restarted within {timeout}s:\n{self.output()}")

    def token(self) -> str:
        if self._token is None:
            self._token = subprocess.run(
                [str(BIN / "order-api"), "token", "--sub", "outage-customer"],
                env=self.env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        return self._token

    def place_order(self, body: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
        return httpx.post(
            f"{self.api_url}/orders",
            json=body,
            headers={
                "Authorization": f"Bearer {self.token()}",
                "Idempotency-Key": f"outage-{uuid.uuid4().hex}",
            },
            timeout=timeout,
        )

    def outcomes(self, order_ids: list[str]) -> dict[str, OrderOutcome]:
        with psycopg.connect(self.database_dsn, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT id::text, status, extract(epoch FROM updated_at - created_at) "
                "FROM orders WHERE id::text = ANY(%s)",
                (order_ids,),
            ).fetchall()
        return {row[0]: OrderOutcome(OrderStatus(row[1]), float(row[2])) for row in rows}

    def wait_until_terminal(
        self, order_ids: list[str], timeout: float = 120.0
    ) -> dict[str, OrderOutcome]:
        deadline = time.monotonic() + timeout
        outcomes: dict[str, OrderOutcome] = {}
        while time.monotonic() < deadline:
            with suppress(psycopg.Error):
                outcomes = self.outcomes(order_ids)
                if len(outcomes) == len(order_ids) and all(
                    o.status in TERMINAL for o in outcomes.values()
                ):
                    return outcomes
            time.sleep(0.5)
        raise AssertionError(f"orders not terminal within {timeout}s: {outcomes}\n{self.output()}")

    def dead_letters(self) -> int:
        with psycopg.connect(self.database_dsn, connect_timeout=3) as conn:
            row = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
        assert row is not None
        return int(row[0])

    def stop(self) -> float:
        """SIGINT, as Ctrl-C sends; the seconds until `order-api run` exited."""
        if not self.running():
            return 0.0
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started


@contextmanager
def running_stack(data_dir: Path, **settings: str) -> Iterator[RunningStack]:
    stack = RunningStack(data_dir, **settings)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
