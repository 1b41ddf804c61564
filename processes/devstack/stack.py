"""`order-api run`: the whole system on one machine, supervised until Ctrl-C.

PostgreSQL and Temporal are embedded unless DATABASE_URL / TEMPORAL_ADDRESS point elsewhere.
The workers (each running a relay) and the API always run as children whose output goes to
<data_dir>/logs, so the terminal shows only what a developer needs: what started, where it
listens, what went wrong.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import IO, Protocol

from foundation.heap_release import HeapReleaser
from foundation.settings import Settings
from processes.devstack.ports import port_is_open
from processes.devstack.postgres import EmbeddedPostgres
from processes.devstack.restarts import MAX_FAILURES, WINDOW_SECONDS, RestartBudget
from processes.devstack.temporal import TemporalDevServer

DATABASE_NAME = "orders"
READY_TIMEOUT_SECONDS = 90.0
SIMULATOR_START_TIMEOUT_SECONDS = 30.0
TEMPORAL_START_TIMEOUT_SECONDS = 60.0
MIGRATE_TIMEOUT_SECONDS = 120.0
# Ctrl-C must leave nothing running within 3 s: every child gets this long after one signal, which
# leaves the rest for reaping the killed and for this process's own exit on a loaded machine.
STOP_TIMEOUT_SECONDS = 2.0
# Of that, the most the clients may take before PostgreSQL and Temporal are told to stop (they
# usually go in well under a second; Temporal itself needs about two).
CLIENT_STOP_SECONDS = 0.6
POLL_SECONDS = 0.2
# The server's header buffer also holds the request line; a long URL must not count as headers.
REQUEST_LINE_ALLOWANCE_BYTES = 8 * 1024
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
# Two, so that while one is restarted after a crash (several seconds to import and connect on a
# busy machine) the other keeps taking over its work: adrs/0004-retry-policies.md.
WORKERS = 2
# The one child that serves every simulated third party (simulators/serve.py).
SIMULATORS = "simulators"


class StackError(Exception):
    """Why the stack cannot start or keep running, worded for the developer."""


class Stopped(BaseException):
    """Raised by the signal handler; a BaseException so no `except Exception` swallows it."""


def _say(message: str) -> None:
    print(message, flush=True)


def _complain(message: str) -> None:
    print(f"order-api run: {message}", file=sys.stderr, flush=True)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:]) or "    (empty log)"


def answers_ok(url: str, timeout: float = 2.0) -> bool:
    """A 200 from `url`. The standard library's client, not httpx: this process lives as long as
    the stack, and httpx (with the command-line extras it loads when installed) would add some
    10 MB to it for a health probe."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (OSError, ValueError):
        return False


def _die_with_supervisor() -> None:
    """Runs in the child before exec: a supervisor killed outright takes its children along."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    command: Sequence[str], log_file: Path, env: dict[str, str] | None, *, mode: str
) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open(mode) as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own session, so Ctrl-C reaches only the supervisor, which stops
            # children in order instead of all of them racing each other.
            start_new_session=True,
            preexec_fn=_die_with_supervisor,
        )


class Service(Protocol):
    name: str
    # PostgreSQL and Temporal: stopped after their clients, which need them to shut down cleanly.
    serves_others: bool

    def alive(self) -> bool: ...

    def restart(self) -> None: ...

    def terminate(self) -> None:
        """Ask it to stop without waiting, so every child shuts down at the same time."""

    def stop(self, deadline: float | None = None) -> None:
        """Wait until it has stopped, by force once the monotonic `deadline` has passed."""

    def how_it_ended(self) -> str: ...

    def exit_report(self) -> str: ...


@dataclass(frozen=True)
class Simulator:
    """A simulated third party `order-api run` starts when its URL is not configured."""

    name: str
    label: str
    app: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def served(self) -> str:
        """How simulators.serve is told to serve it: `module:app=port`."""
        return f"{self.app}={self.port}"

    def ready(self) -> bool:
        return answers_ok(f"{self.url}/health")


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_file: Path
    command: Sequence[str]
    env: dict[str, str] | None = None
    serves_others: bool = False

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str],
        log_file: Path,
        env: dict[str, str] | None = None,
        *,
        serves_others: bool = False,
    ) -> ManagedProcess:
        process = _spawn(command, log_file, env, mode="wb")
        return cls(name, process, log_file, command, env, serves_others)

    def restart(self) -> None:
        # Appended, so the log still shows why the previous one died.
        self.process = _spawn(self.command, self.log_file, self.env, mode="ab")

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        if self.alive():
            os.kill(self.process.pid, signal.SIGTERM)

    def stop(self, deadline: float | None = None) -> None:
        if not self.alive():
            return
        self.terminate()
        if deadline is None:
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        try:
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            _say(f"  {self.name} did not stop in time; killing it")
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def how_it_ended(self) -> str:
        code = self.process.returncode
        if code < 0:
            return f"{self.name} was killed by {signal.Signals(-code).name}"
        return f"{self.name} exited with code {code}"

    def exit_report(self) -> str:
        return (
            f"{self.how_it_ended()}; last lines of {_shown(self.log_file)}:\n"
            f"{log_tail(self.log_file)}"
        )


@dataclass
class PostgresService:
    server: EmbeddedPostgres
    name: str = "PostgreSQL"
    serves_others: bool = True

    def _postmaster_pid(self) -> int | None:
        # Reading the pid file rather than `pg_ctl status`: this runs on every supervision tick.
        try:
            pid = int((self.server.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def alive(self) -> bool:
        return self._postmaster_pid() is not None

    def restart(self) -> None:
        # The data directory is durable and already migrated: starting the server is enough.
        self.server.start()

    def terminate(self) -> None:
        pid = self._postmaster_pid()
        if pid is not None:
            # SIGINT is PostgreSQL's fast shutdown, what `pg_ctl stop -m fast` sends.
            os.kill(pid, signal.SIGINT)

    def stop(self, deadline: float | None = None) -> None:
        if deadline is None:
            self.server.stop()
            return
        self.terminate()
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = self._postmaster_pid()
        if pid is not None:
            # SIGQUIT is the immediate shutdown: no checkpoint, recovery on the next start.
            os.kill(pid, signal.SIGQUIT)

    def how_it_ended(self) -> str:
        return f"{self.name} is not running"

    def exit_report(self) -> str:
        log = self.server.log_file
        return f"{self.how_it_ended()}; last lines of {_shown(log)}:\n{log_tail(log)}"


def acquire_run_lock(data_dir: Path) -> IO[str]:
    """Hold `<data_dir>/run.lock` for as long as the returned file stays open."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # "a+" so a failed attempt does not wipe the holder's pid before reading it.
    handle = (data_dir / "run.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StackError(
            f"another `order-api run` (pid {holder}) is already using {_shown(data_dir)}; "
            "stop it first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def ports_needed(settings: Settings) -> list[tuple[str, int]]:
    """(setting name, port) for every port this run will listen on."""
    ports = {"api_port": settings.api_port}
    if settings.database_url is None:
        ports["postgres_port"] = settings.postgres_port
    if settings.temporal_address is None:
        ports["temporal_port"] = settings.temporal_port
        ports["temporal_ui_port"] = settings.temporal_ui_port
    if settings.payment_gateway_url is None:
        ports["payment_gateway_port"] = settings.payment_gateway_port
    if settings.carrier_url is None:
        ports["carrier_port"] = settings.carrier_port
    needed = list(ports.items())
    # Each worker serves its metrics on a port of its own, counting up from the setting (0: any).
    if settings.worker_metrics_port:
        needed += [
            ("worker_metrics_port", settings.worker_metrics_port + n) for n in range(WORKERS)
        ]
    return needed


def check_ports_free(settings: Settings) -> None:
    for setting, port in ports_needed(settings):
        if port_is_open(port):
            raise StackError(
                f"port {port} is already in use; free it or choose another with "
                f"ORDER_API_{setting.upper()}=<port>"
            )


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _wait_until(
    ready: Callable[[], bool], what: str, services: Sequence[Service], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for service in services:
            if not service.alive():
                raise StackError(f"{service.exit_report()}\n{what} never became ready.")
        if ready():
            return
        if time.monotonic() > deadline:
            raise StackError(f"{what} was not ready within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.logs = settings.data_dir / "logs"
        self.services: list[Service] = []
        self.restarts: dict[str, RestartBudget] = {}

    @property
    def api_url(self) -> str:
        return f"http://{_loopback(self.settings.api_host)}:{self.settings.api_port}"

    def child_env(self) -> dict[str, str]:
        # Explicit addresses, so no child ever decides to start its own PostgreSQL or Temporal.
        return {
            **os.environ,
            "DATABASE_URL": self.settings.effective_database_url,
            "TEMPORAL_ADDRESS": self.settings.effective_temporal_address,
            "ORDER_API_TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "ORDER_API_PAYMENT_GATEWAY_URL": self.settings.effective_payment_gateway_url,
            "ORDER_API_CARRIER_URL": self.settings.effective_carrier_url,
            "PYTHONUNBUFFERED": "1",
            "MALLOC_ARENA_MAX": str(self.settings.malloc_arena_max),
        }

    def simulator_env(self) -> dict[str, str]:
        # The simulators stand in for third parties: they keep their ledgers in files under the
        # data directory and are told nothing of the product's database.
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        return {
            **env,
            "ORDER_API_DATA_DIR": str(self.settings.data_dir.resolve()),
            "PYTHONUNBUFFERED": "1",
            "MALLOC_ARENA_MAX": str(self.settings.malloc_arena_max),
        }

    def temporal_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GOGC": str(self.settings.temporal_dev_gogc),
            "GOMEMLIMIT": self.settings.temporal_dev_memory_limit,
        }

    def start(self) -> None:
        postgres = self.embedded_postgres()
        if postgres is not None and postgres.alive():
            # We hold the run lock, so this is an orphan of a run that was killed outright.
            _say("  stopping a PostgreSQL left running by an earlier run")
            postgres.stop()
        check_ports_free(self.settings)
        if postgres is not None:
            self.start_postgres(postgres)
        self.migrate()
        # Before the worker and the API start, so the dev key is made once, not raced for.
        self.settings.payload_keyring()
        if self.settings.temporal_address is None:
            self.start_temporal()
        self.start_simulators()
        env = self.child_env()
        worker = [sys.executable, "-m", "processes.cli", "worker"]
        for number in range(1, WORKERS + 1):
            name = f"worker-{number}"
            # Two workers on one host: each needs its own metrics port, or the second cannot start.
            base = self.settings.worker_metrics_port
            metrics_port = str(base + number - 1 if base else 0)
            worker_env = {**env, "ORDER_API_WORKER_METRICS_PORT": metrics_port}
            self.services.append(
                ManagedProcess.start(name, worker, self.logs / f"{name}.log", worker_env)
            )
        self.services.append(
            ManagedProcess.start("API", self.api_command(), self.logs / "api.log", env)
        )
        _say(
            f"  {WORKERS} workers (each with a relay), API started;"
            f" waiting for {self.api_url}/health/ready"
        )
        _wait_until(
            self.api_ready, f"the API at {self.api_url}", self.services, READY_TIMEOUT_SECONDS
        )

    def api_command(self) -> list[str]:
        # h11, because httptools buffers headers of any size; its limit covers the request line
        # too, so it sits above the app's own header limit (adrs/0005-input-limits.md).
        header_buffer = self.settings.max_request_header_bytes + REQUEST_LINE_ALLOWANCE_BYTES
        return [
            sys.executable, "-m", "uvicorn", "api.main:app",
            "--host", self.settings.api_host, "--port", str(self.settings.api_port),
            "--http", "h11", "--h11-max-incomplete-event-size", str(header_buffer),
        ]  # fmt: skip

    def simulators(self) -> list[Simulator]:
        """The third parties to simulate: those whose URL is not configured."""
        settings = self.settings
        wanted = []
        if settings.payment_gateway_url is None:
            app = "simulators.payment_gateway.app:app"
            wanted.append(
                Simulator("payment gateway", "Payments", app, settings.payment_gateway_port)
            )
        if settings.carrier_url is None:
            app = "simulators.carrier.app:app"
            wanted.append(Simulator("carrier", "Carrier", app, settings.carrier_port))
        return wanted

    def start_simulators(self) -> None:
        """Before the worker, so its first activity finds them answering. One process serves
        them all: a second would add some 70 MB of the same interpreter and libraries."""
        simulators = self.simulators()
        if not simulators:
            return
        command = [
            sys.executable, "-m", "simulators.serve", *(sim.served for sim in simulators),
        ]  # fmt: skip
        self.services.append(
            ManagedProcess.start(
                SIMULATORS, command, self.logs / "simulators.log", self.simulator_env()
            )
        )
        for simulator in simulators:
            _wait_until(
                simulator.ready,
                f"the {simulator.name} simulator at {simulator.url}",
                self.services,
                SIMULATOR_START_TIMEOUT_SECONDS,
            )
            _say(f"  {simulator.label:<13}{simulator.url}  (simulator)")

    def embedded_postgres(self) -> PostgresService | None:
        if self.settings.database_url is not None:
            return None
        server = EmbeddedPostgres(
            self.settings.data_dir / "postgres", self.settings.postgres_port, durable=True
        )
        return PostgresService(server)

    def start_postgres(self, service: PostgresService) -> None:
        server = service.server
        self.services.append(service)
        try:
            server.start()
            server.create_database(DATABASE_NAME)
        except subprocess.CalledProcessError as exc:
            output = exc.stderr
            if isinstance(output, bytes):
                output = output.decode(errors="replace")
            raise StackError(
                f"PostgreSQL failed to start: {(output or '').strip() or exc}\n"
                f"last lines of {_shown(server.log_file)}:\n{log_tail(server.log_file)}"
            ) from None
        _say(f"  PostgreSQL   127.0.0.1:{server.port}  (data in {_shown(server.data_dir)})")

    def migrate(self) -> None:
        log_file = self.logs / "migrate.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("wb") as log:
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "processes.cli", "migrate"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.child_env(),
                    timeout=MIGRATE_TIMEOUT_SECONDS,
                )
                failure = f"exit code {result.returncode}" if result.returncode else None
            except subprocess.TimeoutExpired:
                failure = f"no result within {MIGRATE_TIMEOUT_SECONDS:.0f}s"
        if failure:
            raise StackError(
                f"migrations failed ({failure}); last lines of {_shown(log_file)}:\n"
                f"{log_tail(log_file)}"
            )
        _say("  migrations   applied")

    def start_temporal(self) -> None:
        db_file = (self.settings.data_dir / "temporal.sqlite").resolve()
        server = TemporalDevServer(
            port=self.settings.temporal_port,
            ui_port=self.settings.temporal_ui_port,
            db_file=db_file,
            log_file=self.logs / "temporal.log",
            namespace=self.settings.temporal_namespace,
            ui_codec_endpoint=f"{self.api_url}/codec",
            history_cache_size=self.settings.temporal_dev_history_cache_size,
        )
        # Started here rather than with server.start(), so a Temporal that exits at once is
        # reported at once instead of after the whole port timeout.
        process = ManagedProcess.start(
            "Temporal",
            server.launch_command(),
            server.log_file,
            self.temporal_env(),
            serves_others=True,
        )
        self.services.append(process)
        _wait_until(
            lambda: port_is_open(server.port),
            f"Temporal on {server.address}",
            self.services,
            TEMPORAL_START_TIMEOUT_SECONDS,
        )
        _say(f"  Temporal     {server.address}  (history in {_shown(db_file)})")

    def api_ready(self) -> bool:
        return answers_ok(f"{self.api_url}/health/ready")

    def supervise(self, keep_going: Callable[[], bool] = lambda: True) -> None:
        """Restart every child that dies, with backoff; StackError once one keeps failing."""
        heap = HeapReleaser(self.settings.heap_release_check_seconds)
        while keep_going():
            for service in self.services:
                self._tend(service, time.monotonic())
            heap.tick()
            time.sleep(POLL_SECONDS)

    def _tend(self, service: Service, now: float) -> None:
        budget = self.restarts.setdefault(service.name, RestartBudget())
        if budget.waiting():
            if budget.due(now):
                budget.restarted(now)
                try:
                    service.restart()
                except Exception as exc:
                    self._failed(service, budget, f"{service.name} could not restart: {exc}", now)
                    return
                _say(f"  {service.name} restarted")
            return
        if not service.alive():
            self._failed(service, budget, service.how_it_ended(), now)

    @staticmethod
    def _failed(service: Service, budget: RestartBudget, why: str, now: float) -> None:
        delay = budget.record_failure(now)
        if budget.exhausted():
            raise StackError(
                f"{service.name} failed {budget.recent_failures} times within "
                f"{WINDOW_SECONDS:.0f}s; {service.exit_report()}\nstopping the rest."
            )
        _say(
            f"  {why}; restarting it in {delay:.1f}s "
            f"(failure {budget.recent_failures} of {MAX_FAILURES} allowed a minute)"
        )

    def stop(self) -> None:
        running = [service for service in reversed(self.services) if service.alive()]
        if running:
            _say(f"  stopping {', '.join(service.name for service in running)}")
        # Each wave all at once, against one deadline: one after another took several seconds.
        # Clients first: a worker whose Temporal is already gone hangs in its own shutdown.
        started = time.monotonic()
        clients = [service for service in running if not service.serves_others]
        servers = [service for service in running if service.serves_others]
        self._stop_together(clients, started + CLIENT_STOP_SECONDS)
        self._stop_together(servers, started + STOP_TIMEOUT_SECONDS)
        if self.services:
            _say("Stopped.")
        self.services.clear()

    def _stop_together(self, services: Sequence[Service], deadline: float) -> None:
        for service in services:
            self._try(service, service.terminate)
        for service in services:
            self._try(service, partial(service.stop, deadline))

    @staticmethod
    def _try(service: Service, action: Callable[[], None]) -> None:
        # One failed stop must not leave the remaining services running.
        try:
            action()
        except Exception as exc:
            _complain(f"could not stop {service.name}: {exc}")

    def print_ready(self, seconds: float) -> None:
        order_api = Path(sys.executable).parent / "order-api"
        lines = [
            f"Ready in {seconds:.1f}s.",
            f"  API          {self.api_url}",
            f"  Swagger UI   {self.api_url}/docs",
        ]
        if self.settings.temporal_address is None:
            lines.append(f"  Temporal UI  http://127.0.0.1:{self.settings.temporal_ui_port}")
            lines.append(f"  Codec server {self.api_url}/codec  (the UI decodes payloads there)")
        lines += [
            f"  Payments     {self.settings.effective_payment_gateway_url}",
            f"  Carrier      {self.settings.effective_carrier_url}",
            f"  Token        {_shown(order_api)} token --sub alice",
            f"  Logs         {_shown(self.logs)}/ (api, worker-1, worker-2, migrate,"
            " temporal, simulators)",
            "Press Ctrl-C to stop.",
        ]
        _say("\n".join(lines))


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def run_stack(settings: Settings) -> int:
    started = time.monotonic()
    try:
        lock = acquire_run_lock(settings.data_dir)
    except StackError as exc:
        _complain(str(exc))
        return 1
    stack = Stack(settings)
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        _say("Starting the Order API stack")
        stack.start()
        stack.print_ready(time.monotonic() - started)
        stack.supervise()
        return 0
    except Stopped as stop:
        _say(f"\n{stop} received; stopping")
        return 0
    except StackError as exc:
        _complain(str(exc))
        return 1
    finally:
        # Ignored rather than handled: the disposition is inherited by the pg_ctl that stops
        # PostgreSQL, which a second Ctrl-C to the terminal's process group would otherwise kill.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.close()
