"""Every setting the service reads, from the environment, in one place."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.configuration import ConfigurationError, load_settings, refuse_to_start
from foundation.heap_release import DEFAULT_CHECK_SECONDS
from foundation.payload_keys import PayloadKeyring, PayloadKeysError, dev_keyring

# A well-known value so a dev token can be minted with no setup; production refuses it.
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0000000000"

# RFC 7518's HMAC, RSA, RSA-PSS and ECDSA families. Anything else (above all `none`) is refused.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# RFC 7518 3.2: an HMAC key at least as long as the hash output (32 bytes for HS256).
MIN_HMAC_SECRET_BYTES = 32


def _check_public_key(pem: str, algorithms: frozenset[str]) -> None:
    """Refuse at startup a key that is unreadable or of the wrong kind, not at the first request."""
    # Imported only when a public key is configured: every process loads these settings, and
    # the dev stack's supervisor, which verifies no token, would carry some 10 MB of it idle.
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("ORDER_API_JWT_PUBLIC_KEY is not a PEM public key") from None
    wanted = {alg[:2] for alg in algorithms}
    if isinstance(key, rsa.RSAPublicKey):
        fits = bool(wanted & {"RS", "PS"})
    else:
        fits = isinstance(key, ec.EllipticCurvePublicKey) and "ES" in wanted
    if not fits:
        raise ValueError(
            f"ORDER_API_JWT_PUBLIC_KEY does not fit the algorithms {sorted(algorithms)}"
        )


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# The names of the retry-policy tables; `workflows.contracts.RetryProfile` is the enum the
# workflows use, kept there so workflow code needs nothing from the settings module.
RetryProfileName = Literal["demo", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_API_", extra="ignore")

    environment: Environment = Environment.DEV
    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # Unset: JSON lines in production (for a log shipper), readable text in dev.
    log_format: LogFormat | None = None
    # Print finished spans to stdout (the logs); production would export to a collector instead.
    otel_console_export: bool = False

    # The two real dependencies. Unset in dev means "start the embedded one".
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    temporal_address: str | None = Field(default=None, validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = "default"
    task_queue: str = "orders"
    # The API's connections. One process is one event loop whose requests are mostly CPU, so at
    # 32 concurrent clients few hold a connection at the same moment: 8 kept (the rest opened
    # for a peak and closed after it) served GET, replay and new orders as fast as 20 did in an
    # A/B on the bench stack, and each connection kept idle is a PostgreSQL backend of some
    # 3.5 MB for as long as the API runs (bench/README.md). The ceiling stays 30.
    api_db_pool_size: int = Field(default=8, gt=0)
    api_db_max_overflow: int = Field(default=22, ge=0)
    # The hot reads' own connections (foundation.db.make_read_pool: GET /orders/{id} and the
    # lookup of a key's stored answer): one short statement each, so a few serve many at once.
    api_read_pool_size: int = Field(default=4, gt=0)
    # Each worker's: its activities hold a connection for one short transaction, so a few serve
    # it, and every idle pooled connection is a PostgreSQL backend of some 3 MB (bench/report.md).
    # Its relay shares the pool: up to three passes hold one each while their starts are in
    # flight, and the backlog count a fourth, hence the overflow above the activities' five.
    worker_db_pool_size: int = Field(default=5, gt=0)
    worker_db_max_overflow: int = Field(default=9, ge=0)

    # The memory of the processes `order-api run` starts (bench/report.md has the figures).
    # glibc gives each thread that allocates an arena of its own, up to eight per core; the
    # Temporal SDK's and the database driver's threads keep a few mostly empty ones alive.
    malloc_arena_max: int = Field(default=2, gt=0)
    # The embedded Temporal dev server is a Go program that keeps up to twice its live heap
    # (GOGC=100). A lower GOGC collects sooner; the soft limit (GOMEMLIMIT syntax) makes it hand
    # memory back to the system once it is passed, at the price of more collection under load.
    # 128 MiB held the bench's order burst at the same share of the raw workflow rate as 160 did.
    temporal_dev_gogc: int = Field(default=50, gt=0)
    temporal_dev_memory_limit: str = Field(default="128MiB", pattern=r"^[0-9]+(B|KiB|MiB|GiB)$")
    # Its history service caches the mutable state of up to 128,000 workflows for an hour, so
    # after a burst it keeps every run it touched, closed or not: some 25 KB each, 70 MB after
    # 3,000 (bench/README.md). This many still holds every run a bench burst has in flight.
    temporal_dev_history_cache_size: int = Field(default=256, gt=0)
    # How often the API, the workers and the dev stack's supervisor look whether they have gone
    # quiet after work, to give the heap it freed back (foundation/heap_release.py); 0 is never.
    heap_release_check_seconds: float = Field(default=DEFAULT_CHECK_SECONDS, ge=0)

    # Ports used by `order-api run` for the embedded stack.
    postgres_port: int = 55432
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # The external services fulfilment calls. Unset means the simulators `order-api run` starts
    # (their own settings, fault injection included, are in simulators/settings.py).
    payment_gateway_url: str | None = None
    carrier_url: str | None = None
    payment_gateway_port: int = 8101
    carrier_port: int = 8102
    # Unset: demo policies in dev (a dead letter within a minute), production ones in production.
    retry_profile: RetryProfileName | None = None

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str = "order-api"
    jwt_audience: str = "order-api"
    jwt_leeway_seconds: int = 30
    # RS*/PS*/ES* tokens are verified with one PEM public key, or with the keys a JWKS URL serves,
    # chosen by the token's `kid` so the issuer can rotate keys without a restart.
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: float = Field(default=300, gt=0)
    # A token that passed verification is taken again without it for this long (at most until it
    # expires); 0 verifies every request. Tokens signed by JWKS keys are verified every time.
    jwt_verified_token_cache_seconds: float = Field(default=60, ge=0)
    # An unknown kid refetches the JWKS at most this often, so forged kids cannot flood the issuer.
    jwt_jwks_refresh_cooldown_seconds: float = Field(default=30, ge=0)
    jwt_jwks_timeout_seconds: float = Field(default=5, gt=0)

    # Temporal payload encryption (adrs/0009-payload-codec.md): `id:base64key,...`, the first
    # key current. Unset in dev: a key generated under data_dir; production refuses to start.
    payload_keys: SecretStr | None = None
    # The Temporal UI's origin, the only one the codec server answers in a browser. Unset in
    # dev: the UI started by `order-api run`; unset in production: no browser origin at all.
    codec_ui_origin: str | None = None

    idempotency_retention_seconds: int = 24 * 3600
    # How long an in-flight claim blocks its key before another request may take it over.
    idempotency_claim_lease_seconds: int = 30
    readiness_timeout_seconds: float = 2.0
    # How long POST /orders/{id}/cancel waits for compensation before answering 202.
    cancel_wait_seconds: float = 20.0
    # GET /orders/{id}/events: a comment this often keeps idle streams open through proxies, and
    # a stream ends after the longest time, when SSE clients reconnect with Last-Event-ID.
    events_keepalive_seconds: float = Field(default=15.0, gt=0)
    events_stream_max_seconds: float = Field(default=600.0, gt=0)
    # How often the worker purges expired idempotency keys.
    key_purge_interval_seconds: float = 5.0

    # The relay (processes/relay.py) starts accepted orders' workflows. It wakes on each commit
    # (LISTEN/NOTIFY); the poll is the fallback for a lost notification or a due retry.
    # Every worker runs one; false leaves starting to `order-api relay` processes of their own.
    worker_runs_relay: bool = True
    relay_poll_seconds: float = Field(default=2.0, gt=0)
    relay_batch_size: int = Field(default=200, gt=0)
    # Starts in flight at once per relay: enough to keep the engine busy, bounded so a backlog
    # does not open thousands of RPCs.
    relay_concurrency: int = Field(default=32, gt=0)
    # A failed start is retried after 0.5 s, doubling up to this, so an unreachable Temporal is
    # asked a few times a minute per order, not in a loop; small, so a recovery is noticed soon.
    relay_retry_max_seconds: float = Field(default=10.0, gt=0)
    relay_metrics_host: str = "127.0.0.1"
    relay_metrics_port: int = Field(default=9466, ge=0, le=65535)
    # Above this many accepted-but-unstarted orders, POST /orders with a new key answers 503: a
    # backlog the engine is not draining would otherwise grow without bound (adrs/0003).
    max_start_backlog: int = Field(default=2000, gt=0)
    # How stale the API's view of that backlog may be: it is read once per interval per process.
    start_backlog_refresh_seconds: float = Field(default=1.0, gt=0)

    # What the API shows besides its routes. Unset: docs (/docs, /redoc, /openapi.json) in dev
    # only; openapi.yaml in the repository is the contract either way.
    docs_enabled: bool | None = None
    # Set: /metrics answers only `Authorization: Bearer <token>`. Unset: open in dev, absent (404)
    # in production, where metrics would tell anyone the traffic and error rates.
    metrics_token: SecretStr | None = None
    # Each worker process serves its metrics (ours and the Temporal SDK's) at
    # http://<host>:<port>/metrics. Port 0 picks a free one, as a second worker on a host needs.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)

    # Input limits (adrs/0005-input-limits.md). The rate limit is per principal and per replica.
    max_request_body_bytes: int = Field(default=64 * 1024, gt=0)
    # All header names and values together (431 over it); room for a large token and the rest.
    max_request_header_bytes: int = Field(default=16 * 1024, gt=0)
    # A bearer token longer than this is refused (401) before it is parsed or its signature checked.
    max_bearer_token_bytes: int = Field(default=8 * 1024, gt=0)
    rate_limit_orders_per_minute: int = Field(default=120, gt=0)

    @field_validator("jwt_algorithms")
    @classmethod
    def _never_unsigned(cls, algorithms: list[str]) -> list[str]:
        if not algorithms or any(alg.lower() == "none" for alg in algorithms):
            raise ValueError("jwt_algorithms must list real signing algorithms, never 'none'")
        unknown = set(algorithms) - HMAC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
        if unknown:
            # The allowed names, not the given ones: a refusal never echoes a configured value.
            supported = ", ".join(sorted(HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS))
            raise ValueError(f"jwt_algorithms has unsupported algorithms; supported: {supported}")
        return algorithms

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys_parse(cls, keys: SecretStr | None) -> SecretStr | None:
        if keys is not None:
            try:
                PayloadKeyring.parse(keys.get_secret_value())
            except PayloadKeysError as exc:
                raise ValueError(str(exc)) from None
        return keys

    @model_validator(mode="after")
    def _refuse_production_without_payload_keys(self) -> Settings:
        if self.environment is Environment.PRODUCTION and self.payload_keys is None:
            raise ValueError(
                "ORDER_API_PAYLOAD_KEYS is required in production (id:base64key,...; "
                "a 32-byte key); payloads would otherwise be stored in clear"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        if (
            self.environment is Environment.PRODUCTION
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
            and any(alg.startswith("HS") for alg in self.jwt_algorithms)
        ):
            raise ValueError(
                "ORDER_API_JWT_SECRET is the dev secret; production mode refuses to start with it"
            )
        return self

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> Settings:
        hmac = HMAC_ALGORITHMS.intersection(self.jwt_algorithms)
        asymmetric = ASYMMETRIC_ALGORITHMS.intersection(self.jwt_algorithms)
        if hmac and len(self.jwt_secret.get_secret_value().encode()) < MIN_HMAC_SECRET_BYTES:
            raise ValueError(f"ORDER_API_JWT_SECRET must be at least {MIN_HMAC_SECRET_BYTES} bytes")
        if asymmetric and (self.jwt_public_key is None) == (self.jwt_jwks_url is None):
            raise ValueError(
                f"{', '.join(sorted(asymmetric))} need exactly one of ORDER_API_JWT_PUBLIC_KEY "
                "and ORDER_API_JWT_JWKS_URL"
            )
        if self.jwt_public_key is not None:
            _check_public_key(self.jwt_public_key, asymmetric)
        if (
            self.environment is Environment.PRODUCTION
            and self.jwt_jwks_url is not None
            and not self.jwt_jwks_url.startswith("https://")
        ):
            # Keys fetched in the clear could be swapped in transit for an attacker's.
            raise ValueError("ORDER_API_JWT_JWKS_URL must be https:// in production")
        return self

    def payload_keyring(self) -> PayloadKeyring:
        if self.payload_keys is not None:
            return PayloadKeyring.parse(self.payload_keys.get_secret_value())
        return dev_keyring(self.data_dir)

    @property
    def codec_allowed_origins(self) -> frozenset[str]:
        if self.codec_ui_origin is not None:
            return frozenset({self.codec_ui_origin.rstrip("/")})
        if self.environment is Environment.PRODUCTION:
            return frozenset()
        port = self.temporal_ui_port
        return frozenset({f"http://127.0.0.1:{port}", f"http://localhost:{port}"})

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.environment is Environment.PRODUCTION else LogFormat.TEXT

    @property
    def effective_docs_enabled(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.environment is not Environment.PRODUCTION

    @property
    def effective_database_url(self) -> str:
        return self.database_url or (
            f"postgresql+psycopg://postgres@127.0.0.1:{self.postgres_port}/orders"
        )

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_payment_gateway_url(self) -> str:
        return self.payment_gateway_url or f"http://127.0.0.1:{self.payment_gateway_port}"

    @property
    def effective_carrier_url(self) -> str:
        return self.carrier_url or f"http://127.0.0.1:{self.carrier_port}"

    @property
    def effective_retry_profile(self) -> RetryProfileName:
        if self.retry_profile is not None:
            return self.retry_profile
        return "production" if self.environment is Environment.PRODUCTION else "demo"


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings)


def settings_or_exit() -> Settings:
    """get_settings() for process entry points (CLI, ASGI modules, the worker)."""
    try:
        return get_settings()
    except ConfigurationError as exc:
        refuse_to_start(exc)
