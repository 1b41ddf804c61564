"""Logging setup shared by the API and the worker, with credentials redacted from every record."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A header dump in any shape that gets logged: "Authorization: x", {'authorization': 'x'},
    # (b'authorization', b'x'). Covers opaque tokens and Basic credentials too.
    (
        re.compile(r"""(?i)((?:proxy-)?authorization['"]?\s*[:=,]\s*b?['"]?)[^'"\r\n]+"""),
        rf"\1{REDACTED}",
    ),
    # RFC 6750's b64token; 12 characters at least, so prose ("bearer token refused") and the
    # challenge (Bearer error="...") stay readable.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{12,}=*"), rf"\1{REDACTED}"),
    # Whatever carries it, a JWT is three base64url segments and its header starts with '{"'.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), REDACTED),
    # Tokens sent in a query string end up in access logs with the path.
    (
        re.compile(r"(?i)\b((?:access_token|id_token|refresh_token|token)=)[^&\s'\"]+"),
        rf"\1{REDACTED}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    # Numbers stay numbers, so "%d" placeholders keep working; only text carrying a secret changes.
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class _RedactingRecordFactory:
    """Scrubs each record as it is made.

    A record factory rather than a filter: a handler filter misses handlers added later (uvicorn's,
    a log shipper's), and a logger filter misses records from child loggers. The factory sees
    every record once, whoever logs it and wherever it goes.
    """

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self._inner = inner
        self._formatter = logging.Formatter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._inner(*args, **kwargs)
        record.msg = _scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _scrub(arg) for key, arg in record.args.items()}
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse exc_text when it is set, so the traceback is printed redacted.
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def install_log_redaction() -> None:
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(current))


def configure_logging(level: str) -> None:
    install_log_redaction()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
