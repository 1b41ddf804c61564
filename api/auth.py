"""Bearer JWT verification and scope checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from orderapi.domain import Scope
from orderapi.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="A JWT from `order-api token --sub <customer>`")


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN.value in self.scopes


def _unauthorized(detail: str, error: str | None = "invalid_token") -> ProblemError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def verify_token(token: str, settings: Settings) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=settings.jwt_algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        # The reason is safe to share (expired, wrong audience, ...); the token never is.
        raise _unauthorized(f"The bearer token is not valid: {exc}.") from None
    scopes = claims.get("scope", "")
    if not isinstance(scopes, str):
        raise _unauthorized("The bearer token's scope claim must be a space-separated string.")
    return Principal(subject=str(claims["sub"]), scopes=frozenset(scopes.split()))


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("A bearer token is required.", error=None)
    settings: Settings = request.app.state.settings
    return verify_token(credentials.credentials, settings)


def require_scope(scope: Scope):  # type: ignore[no-untyped-def]
    """A dependency that authenticates and then insists on `scope`."""

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if scope.value not in principal.scopes:
            raise ProblemError(
                403,
                "insufficient-scope",
                f"This operation needs the '{scope.value}' scope.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope.value}"'
                },
            )
        return principal

    return dependency


OrderWriter = Annotated[Principal, Depends(require_scope(Scope.ORDERS_WRITE))]
OrderReader = Annotated[Principal, Depends(require_scope(Scope.ORDERS_READ))]
Admin = Annotated[Principal, Depends(require_scope(Scope.ADMIN))]
