"""The pieces `order-api run` is built from, against the real servers and real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from foundation import search_attributes as sa
from foundation.settings import Settings
from processes.devstack import restarts, stack
from processes.devstack.ports import free_port, port_is_open
from processes.devstack.postgres import EmbeddedPostgres
from processes.devstack.stack import (
    ManagedProcess,
    Stack,
    StackError,
    acquire_run_lock,
    check_ports_free,
    run_stack,
)
from processes.devstack.temporal import TemporalDevServer

pytestmark = pytest.mark.integration
CODEC_ENDPOINT = "http://127.0.0.1:8000/codec"


def stack_settings(data_dir: Path, **overrides: object) -> Settings:
    # model_copy, so DATABASE_URL / TEMPORAL_ADDRESS from the test environment cannot leak in.
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": None,
        "temporal_address": None,
        "api_port": free_port(),
        "postgres_port": free_port(),
        "temporal_port": free_port(),
        "temporal_ui_port": free_port(),
        "payment_gateway_port": free_port(),
        "carrier_port": free_port(),
    }
    return Settings().model_copy(update=values | overrides)


@pytest.fixture(scope="module")
def scratch_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("devstack-pg") / "data", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the run lock on tmp_path, as a second `make run` would see it."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from processes.devstack.stack import acquire_run_lock
        lock = acquire_run_lock(Path({str(tmp_path)!r}))
        print("locked", flush=True)
        time.sleep(120)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    yield holder
    holder.kill()
    holder.wait()


def test_embedded_postgres_keeps_data_across_stop_and_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    first = EmbeddedPostgres(data_dir, free_port(), durable=True)
    first.start()
    try:
        first.create_database("orders")
        with psycopg.connect(first.url("orders", driver="postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        first.stop()

    second = EmbeddedPostgres(data_dir, free_port(), durable=True)
    second.start()
    try:
        with psycopg.connect(second.url("orders", driver="postgresql")) as conn:
            rows = conn.execute("SELECT value FROM kept").fetchall()
    finally:
        second.stop()
    assert rows == [("still here",)]


def test_create_database_is_idempotent(scratch_postgres: EmbeddedPostgres) -> None:
    scratch_postgres.create_database("twice")
    scratch_postgres.create_database("twice")

    with psycopg.connect(scratch_postgres.url(driver="postgresql")) as conn:
        count = conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'twice'").fetchone()
    assert count == (1,)


def test_stopped_embedded_postgres_frees_its_port(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), durable=False)
    server.start()
    assert server.is_running() and port_is_open(server.port)

    server.stop()

    assert not server.is_running()
    assert not port_is_open(server.port)


async def _assert_search_attributes_registered(server: TemporalDevServer) -> None:
    """Every search attribute of ours is on the server, with its type."""
    client = await Client.connect(server.address)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=server.namespace)
    )
    registered = dict(response.custom_attributes)
    for key in sa.ALL_KEYS:
        assert registered.get(key.name) == key.indexed_value_type.value


async def test_temporal_dev_server_registers_search_attributes_and_serves_ui(
    tmp_path: Path,
) -> None:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=free_port(),
        db_file=tmp_path / "temporal.sqlite",
        log_file=tmp_path / "temporal.log",
        ui_codec_endpoint=CODEC_ENDPOINT,
    )
    server.start()
    try:
        await _assert_search_attributes_registered(server)
        assert server.ui_port is not None and port_is_open(server.ui_port)
        assert server.db_file is not None and server.db_file.exists()
        ui_settings = httpx.get(f"http://127.0.0.1:{server.ui_port}/api/v1/settings").json()
        assert ui_settings["Codec"]["Endpoint"] == CODEC_ENDPOINT
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode is not None
    assert not port_is_open(server.port)


def test_a_headless_temporal_is_given_no_codec_endpoint(tmp_path: Path) -> None:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_file=tmp_path / "temporal.log",
        ui_codec_endpoint=CODEC_ENDPOINT,
    )
    assert "--ui-codec-endpoint" not in server.command()


def test_the_history_cache_bound_reaches_the_server_as_dynamic_config(tmp_path: Path) -> None:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_file=tmp_path / "temporal.log",
        history_cache_size=256,
    )
    command = server.command()
    flag = command.index("--dynamic-config-value")
    assert command[flag + 1] == "history.hostLevelCacheMaxSize=256"


def test_an_unbounded_history_cache_leaves_the_server_default(tmp_path: Path) -> None:
    server = TemporalDevServer(
        port=free_port(), ui_port=None, db_file=None, log_file=tmp_path / "temporal.log"
    )
    assert "--dynamic-config-value" not in server.command()


async def test_the_launched_temporal_becomes_the_server_with_every_search_attribute(
    tmp_path: Path,
) -> None:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=tmp_path / "temporal.sqlite",
        log_file=tmp_path / "temporal.log",
        history_cache_size=64,
    )
    process = subprocess.Popen(server.launch_command(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not server.healthy():
            assert process.poll() is None, "the launcher exited instead of becoming the server"
            assert time.monotonic() < deadline, "Temporal never became healthy"
            time.sleep(0.2)
        # The same pid now runs the server binary: nothing of Python is left to hold memory.
        assert Path(os.readlink(f"/proc/{process.pid}/exe")).name == "temporal"
        await _assert_search_attributes_registered(server)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_supervisor_never_loads_the_temporal_sdk() -> None:
    # It lives as long as the stack: the SDK would add some 16 MB to it for nothing it runs.
    probe = "import sys, processes.devstack.stack; print('temporalio' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "False"


def test_run_lock_names_the_pid_that_holds_it(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(StackError, match=rf"pid {lock_holder.pid}\b"):
        acquire_run_lock(tmp_path)


def test_run_lock_is_free_again_once_its_holder_dies(
    tmp_path: Path, lock_holder: subprocess.Popen[str]
) -> None:
    lock_holder.kill()
    lock_holder.wait()

    with acquire_run_lock(tmp_path):
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())


def test_second_run_stack_exits_1_naming_the_running_pid(
    tmp_path: Path, lock_holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_stack(stack_settings(tmp_path)) == 1

    err = capsys.readouterr().err
    assert f"pid {lock_holder.pid}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists(), "nothing may start while another run holds the lock"


@pytest.mark.parametrize(
    ("setting", "env_var"),
    [
        ("api_port", "ORDER_API_API_PORT"),
        ("postgres_port", "ORDER_API_POSTGRES_PORT"),
        ("payment_gateway_port", "ORDER_API_PAYMENT_GATEWAY_PORT"),
        ("carrier_port", "ORDER_API_CARRIER_PORT"),
        ("temporal_port", "ORDER_API_TEMPORAL_PORT"),
        ("temporal_ui_port", "ORDER_API_TEMPORAL_UI_PORT"),
    ],
)
def test_taken_port_is_reported_with_its_env_var(
    tmp_path: Path, setting: str, env_var: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = stack_settings(tmp_path, **{setting: port})

        with pytest.raises(StackError, match=rf"port {port} .*{env_var}="):
            check_ports_free(settings)


def test_ports_of_external_services_are_not_checked(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = stack_settings(
            tmp_path,
            database_url="postgresql+psycopg://elsewhere/orders",
            temporal_address="elsewhere:7233",
            postgres_port=port,
            temporal_port=port,
            temporal_ui_port=port,
        )

        check_ports_free(settings)


def test_managed_process_is_killed_when_it_ignores_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "STOP_TIMEOUT_SECONDS", 0.5)
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    child = ManagedProcess.start("stubborn", [sys.executable, "-c", script], tmp_path / "c.log")
    while "up" not in child.log_file.read_text():
        assert child.alive()

    child.stop()

    assert child.process.returncode == -signal.SIGKILL


def test_managed_process_reports_its_exit_code_and_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('boom: no such table'); sys.exit(3)"
    child = ManagedProcess.start("worker", [sys.executable, "-c", script], tmp_path / "w.log")
    child.process.wait()

    report = child.exit_report()

    assert not child.alive()
    assert "worker exited with code 3" in report
    assert "boom: no such table" in report


def test_supervisor_restarts_any_child_that_was_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor = Stack(stack_settings(tmp_path))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    api = ManagedProcess.start("API", sleeper, tmp_path / "a.log")
    supervisor.services = [api]
    killed = api.process.pid
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 10

    try:
        supervisor.supervise(lambda: api.process.pid == killed and time.monotonic() < deadline)
        assert api.process.pid != killed
        assert api.alive()
    finally:
        supervisor.stop()
    assert "API was killed by SIGKILL; restarting it in" in capsys.readouterr().out


def test_supervisor_gives_up_on_a_child_that_keeps_failing_naming_it_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restarts, "FIRST_DELAY_SECONDS", 0.01)
    supervisor = Stack(stack_settings(tmp_path))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    healthy = ManagedProcess.start("API", sleeper, tmp_path / "a.log")
    broken = [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(4)"]
    worker = ManagedProcess.start("worker", broken, tmp_path / "w.log")
    supervisor.services = [healthy, worker]
    try:
        with pytest.raises(StackError) as failure:
            supervisor.supervise()
    finally:
        supervisor.stop()
    message = str(failure.value)
    assert message.startswith("worker failed 5 times within 60s; worker exited with code 4")
    assert "boom: bad config" in message
    assert "API" not in message


def test_stop_ends_every_child_within_three_seconds_even_one_ignoring_sigterm(
    tmp_path: Path,
) -> None:
    supervisor = Stack(stack_settings(tmp_path))
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    children = [
        ManagedProcess.start(f"child {i}", [sys.executable, "-c", stubborn], tmp_path / f"{i}.log")
        for i in range(3)
    ]
    supervisor.services = list(children)
    for child in children:
        while "up" not in child.log_file.read_text():
            assert child.alive()
    started = time.monotonic()

    supervisor.stop()

    assert time.monotonic() - started < 3.0
    assert not any(child.alive() for child in children)


def test_simulators_are_given_the_data_directory_and_not_the_product_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.internal:5432/orders")

    env = Stack(stack_settings(tmp_path)).simulator_env()

    assert "DATABASE_URL" not in env
    assert env["ORDER_API_DATA_DIR"] == str(tmp_path.resolve())
