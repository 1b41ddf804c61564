"""`order-api token` mints exactly the scopes asked for; with none, orders:write and orders:read."""

from __future__ import annotations

import jwt
import pytest

from processes.cli import main


def _minted_scopes(capsys: pytest.CaptureFixture[str], *arguments: str) -> list[str]:
    assert main(["token", "--sub", "alice", *arguments]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims["scope"]).split()


def test_without_scopes_the_token_may_write_and_read_orders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _minted_scopes(capsys) == ["orders:write", "orders:read"]


def test_a_read_only_token_can_be_minted(capsys: pytest.CaptureFixture[str]) -> None:
    assert _minted_scopes(capsys, "--scope", "orders:read") == ["orders:read"]


def test_an_admin_only_token_can_be_minted(capsys: pytest.CaptureFixture[str]) -> None:
    assert _minted_scopes(capsys, "--scope", "admin") == ["admin"]


def test_scopes_are_minted_in_the_order_asked_without_repeats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scopes = _minted_scopes(
        capsys, "--scope", "admin", "--scope", "orders:read", "--scope", "admin"
    )
    assert scopes == ["admin", "orders:read"]


def test_an_unknown_scope_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--sub", "alice", "--scope", "orders:delete"])
    assert exited.value.code == 2
    assert "orders:delete" in capsys.readouterr().err
