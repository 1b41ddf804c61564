"""Bearer JWT verification (RFC 8725) and scope checks."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated

import anyio
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import ProblemError
from foundation.domain import Scope
from foundation.settings import HMAC_ALGORITHMS, Settings

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="A JWT from `order-api token --sub <customer>`")

REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# RFC 7519 4.1.4-4.1.6: the registered claims that are NumericDates.
TIME_CLAIMS = ("exp", "nbf", "iat")
# Verdicts kept at once; past it the oldest goes first. Clients reuse a token for its lifetime,
# so a few thousand cover every client of a busy replica.
VERIFIED_TOKENS_KEPT = 4096


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN.value in self.scopes


def _unauthorized(detail: str, error: str | None = "invalid_token") -> ProblemError:
    # Operators see why tokens are refused; the token itself is never part of the reason.
    logger.info("bearer token refused: %s", detail)
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


@dataclass(frozen=True)
class _Verdict:
    principal: Principal
    good_until: float  # time.time()


class TokenVerifier:
    """Checks a bearer token against the configured algorithm allow-list and keys.

    The key follows from the algorithm family, never from the token alone: HS* tokens are checked
    with the shared secret, RS*/PS*/ES* tokens with the configured public key or the JWKS key named
    by `kid`. So a public key can never be used as an HMAC secret (the key-confusion attack), and
    a token's `jku`/`x5u` headers are never followed.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Verifying is about a tenth of the CPU of a read, and a client sends the same token
        # with every request; a token that passed is taken again without the work.
        self._verified: dict[str, _Verdict] = {}
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                lifespan=settings.jwt_jwks_cache_seconds,
                cooldown_duration=settings.jwt_jwks_refresh_cooldown_seconds,
                timeout=settings.jwt_jwks_timeout_seconds,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def verify(self, token: str) -> Principal:
        verdict = self._verified.get(token)
        if verdict is not None:
            if time.time() < verdict.good_until:
                return verdict.principal
            del self._verified[token]
        principal, expires_at, rotating_key = await self._verify(token)
        # A JWKS key can be retired at any moment (rotation refetches the set), and a token it
        # signed must be refused from then on, so only verdicts on configured keys are kept.
        if not rotating_key:
            self._remember(token, principal, expires_at)
        return principal

    def _remember(self, token: str, principal: Principal, expires_at: float) -> None:
        lifetime = self._settings.jwt_verified_token_cache_seconds
        if lifetime <= 0:
            return
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]
        good_until = min(expires_at + self._settings.jwt_leeway_seconds, time.time() + lifetime)
        self._verified[token] = _Verdict(principal, good_until)

    async def _verify(self, token: str) -> tuple[Principal, float, bool]:
        """The token's principal, its expiry and whether a JWKS key verified it; or a refusal."""
        # Before any parsing or crypto, so a huge token costs no base64, JSON or HMAC work.
        if len(token) > self._settings.max_bearer_token_bytes:
            raise _unauthorized(
                f"The bearer token is longer than {self._settings.max_bearer_token_bytes} bytes."
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("The bearer token is not a well-formed JWT.") from None
        algorithm = header.get("alg")
        # Checked before any key is looked up, so a refused algorithm costs no JWKS fetch.
        if not isinstance(algorithm, str) or algorithm not in self._settings.jwt_algorithms:
            raise _unauthorized(
                "The bearer token is signed with an algorithm that is not accepted."
            )
        key = await self._key_for(algorithm, header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=self._settings.jwt_leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as exc:
            # PyJWT's reason is safe to share (expired, wrong audience, ...); the token never is.
            raise _unauthorized(f"The bearer token is not valid: {exc}.") from None
        # PyJWT reads these with int(), so "exp": "9999999999" or "iat": true would pass; RFC 7519
        # makes them NumericDates, JSON numbers, and a boolean is not one.
        for claim in TIME_CLAIMS:
            value = claims.get(claim)
            if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise _unauthorized(
                    f"The bearer token's {claim} claim must be a NumericDate (a JSON number)."
                )
        # PyJWT insists on a string subject; an empty one would still name no customer at all.
        if not str(claims["sub"]).strip():
            raise _unauthorized("The bearer token's sub claim must not be blank.")
        scopes = claims.get("scope", "")
        if not isinstance(scopes, str):
            raise _unauthorized("The bearer token's scope claim must be a space-separated string.")
        principal = Principal(subject=str(claims["sub"]), scopes=frozenset(scopes.split()))
        return principal, float(claims["exp"]), isinstance(key, jwt.PyJWK)

    async def _key_for(self, algorithm: str, kid: object) -> str | jwt.PyJWK:
        if algorithm in HMAC_ALGORITHMS:
            return self._settings.jwt_secret.get_secret_value()
        if self._jwks is None:
            assert self._settings.jwt_public_key is not None  # settings validation guarantees it
            return self._settings.jwt_public_key
        if not isinstance(kid, str) or not kid:
            raise _unauthorized("The bearer token does not name its signing key (kid).")
        try:
            # PyJWKClient caches the set and refetches it once for an unknown kid (rotation);
            # a fetch is blocking network I/O, so it runs off the event loop.
            return await anyio.to_thread.run_sync(self._jwks.get_signing_key, kid)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError):
            # Unreachable, or answering with no usable keys: the issuer's fault, not the caller's.
            logger.warning("no usable JWKS from %s", self._settings.jwt_jwks_url, exc_info=True)
            raise ProblemError(
                503,
                "token-keys-unavailable",
                "The keys that sign bearer tokens cannot be fetched right now; retry shortly.",
                headers={"Retry-After": "5"},
            ) from None
        except jwt.PyJWTError:
            raise _unauthorized("The bearer token's signing key (kid) is not known.") from None


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("A bearer token is required.", error=None)
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


async def authenticate_with_scope(request: Request, scope: Scope) -> Principal:
    """For routes whose need of a token depends on the settings, so is not declared security."""
    credentials = await _bearer(request)
    principal = await authenticate(request, credentials)
    _insist_on(scope, principal)
    return principal


def _insist_on(scope: Scope, principal: Principal) -> None:
    if scope.value not in principal.scopes:
        raise ProblemError(
            403,
            "insufficient-scope",
            f"This operation needs the '{scope.value}' scope.",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope.value}"'
            },
        )


def require_scope(scope: Scope):  # type: ignore[no-untyped-def]
    """A dependency that authenticates and then insists on `scope`."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        _insist_on(scope, principal)
        return principal

    return dependency


OrderWriter = Annotated[Principal, Depends(require_scope(Scope.ORDERS_WRITE))]
OrderReader = Annotated[Principal, Depends(require_scope(Scope.ORDERS_READ))]
Admin = Annotated[Principal, Depends(require_scope(Scope.ADMIN))]
