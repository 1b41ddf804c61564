"""`order-api`: the project's command line (token, run, worker, relay, migrate)."""

from __future__ import annotations

import argparse
import sys

from foundation.domain import Scope
from foundation.settings import settings_or_exit


def _token(args: argparse.Namespace) -> int:
    # Imported here: `order-api run` stays up for the whole session and never signs a token.
    from foundation.tokens import DEFAULT_SCOPES, mint_dev_token

    # Exactly the scopes asked for, so read-only and admin-only tokens can be minted too.
    scopes = list(dict.fromkeys(args.scope)) or list(DEFAULT_SCOPES)
    try:
        print(mint_dev_token(settings_or_exit(), args.sub, scopes, ttl_seconds=args.ttl))
    except PermissionError as exc:
        print(f"order-api token: {exc}", file=sys.stderr)
        return 2
    return 0


def _run(_: argparse.Namespace) -> int:
    from processes.devstack.stack import run_stack

    return run_stack(settings_or_exit())


def _worker(_: argparse.Namespace) -> int:
    from processes.worker import main as worker_main

    worker_main()
    return 0


def _relay(_: argparse.Namespace) -> int:
    from processes.relay import main as relay_main

    relay_main()
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from foundation.migrate import upgrade_to_head

    upgrade_to_head(settings_or_exit().effective_database_url)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="order-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a signed dev JWT")
    token.add_argument("--sub", required=True, help="customer id (the token subject)")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=[scope.value for scope in Scope],
        help="a scope the token carries (repeatable); without any: orders:write orders:read",
    )
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(handler=_token)

    commands.add_parser("run", help="run the whole stack on embedded defaults").set_defaults(
        handler=_run
    )
    commands.add_parser("worker", help="run a Temporal worker").set_defaults(handler=_worker)
    commands.add_parser(
        "relay", help="run the relay that starts accepted orders' workflows"
    ).set_defaults(handler=_relay)
    commands.add_parser("migrate", help="apply Alembic migrations").set_defaults(handler=_migrate)

    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
