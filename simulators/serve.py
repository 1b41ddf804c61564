"""Several simulators in one process, each on its own port: what `order-api run` starts.

`python -m simulators.serve simulators.payment_gateway.app:app=8101 simulators.carrier.app:app=8102`

Each simulator is a FastAPI app on its own ledger, but nearly all of a simulator process's memory
is the interpreter and the libraries both load (some 70 MB PSS each), so one process serving both
ports holds about half of what two do. Each app keeps its own port, ledger, faults and lifespan;
only the process, and so its log and its restarts, are shared.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from foundation.heap_release import heap_released_when_quiet

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Served:
    app: str
    port: int

    @classmethod
    def parse(cls, spec: str) -> Served:
        """`module:attribute=port`."""
        app, separator, port = spec.rpartition("=")
        if not separator or ":" not in app or not port.isdigit():
            raise ValueError(f"expected module:app=port, got {spec!r}")
        return cls(app, int(port))


class _SharedSignals(uvicorn.Server):
    """A server that leaves signals to `serve`, which stops every server on the first one:
    each uvicorn server would otherwise install its own handlers over the previous one's."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def configs(served: Sequence[Served], host: str = HOST) -> list[uvicorn.Config]:
    return [uvicorn.Config(s.app, host=host, port=s.port) for s in served]


async def serve(chosen: Sequence[uvicorn.Config]) -> None:
    servers = [_SharedSignals(config) for config in chosen]

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_all)
    runs = [asyncio.create_task(server.serve()) for server in servers]
    try:
        async with heap_released_when_quiet():
            # One that cannot start (its port taken) takes the others down: the supervisor then
            # sees the process exit and restarts it as a whole.
            done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            stop_all()
            await asyncio.gather(*runs, return_exceptions=True)
        for task in done:
            task.result()
    finally:
        stop_all()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if any(not server.started for server in servers):
        raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    specs = list(sys.argv[1:] if argv is None else argv)
    if not specs:
        raise SystemExit(__doc__)
    try:
        served = [Served.parse(spec) for spec in specs]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    chosen = configs(served)
    # The event loop `uvicorn` itself would pick (uvloop where installed), as for the API.
    with asyncio.Runner(loop_factory=chosen[0].get_loop_factory()) as runner:
        runner.run(serve(chosen))


if __name__ == "__main__":
    main()
