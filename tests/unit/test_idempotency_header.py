"""The Idempotency-Key header is validated before any lookup, and requests are fingerprinted."""

from __future__ import annotations

import pytest

from api.idempotency.header import (
    parse_idempotency_key,
    parse_idempotency_keys,
    request_fingerprint,
)
from api.problems import ProblemError


def test_bare_key_is_accepted_as_is() -> None:
    assert parse_idempotency_key("order-2026-11-26-001") == "order-2026-11-26-001"


def test_quoted_structured_field_string_is_unwrapped() -> None:
    assert parse_idempotency_key('"8e03978e-40d5-43e8-bc93-6894a57f9324"') == (
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )


def test_escapes_inside_a_quoted_key_are_decoded() -> None:
    assert parse_idempotency_key(r'"a\"b\\c"') == 'a"b\\c'


def test_missing_key_is_a_400_naming_the_header() -> None:
    with pytest.raises(ProblemError) as caught:
        parse_idempotency_key(None)
    assert caught.value.status == 400
    assert caught.value.slug == "idempotency-key-missing"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", '""', "x" * 256, "caf\u00e9", "tab\there", '"unterminated', '"a"b"', '"bad\\x"'],
    ids=["empty", "blank", "empty-quoted", "too-long", "non-ascii", "control", "unterminated",
         "inner-quote", "bad-escape"],
)  # fmt: skip
def test_malformed_key_is_a_400(raw: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_idempotency_key(raw)
    assert caught.value.status == 400
    assert caught.value.slug == "idempotency-key-malformed"


def test_key_of_exactly_255_characters_is_accepted() -> None:
    assert parse_idempotency_key("k" * 255) == "k" * 255


def test_fingerprint_ignores_json_key_order() -> None:
    one = request_fingerprint("POST", "/orders", {"a": 1, "b": {"c": 2, "d": 3}})
    two = request_fingerprint("post", "/orders", {"b": {"d": 3, "c": 2}, "a": 1})
    assert one == two


def test_fingerprint_changes_with_body_path_or_method() -> None:
    base = request_fingerprint("POST", "/orders", {"a": 1})
    assert request_fingerprint("POST", "/orders", {"a": 2}) != base
    assert request_fingerprint("POST", "/other", {"a": 1}) != base
    assert request_fingerprint("PUT", "/orders", {"a": 1}) != base


def test_spaces_and_tabs_around_a_key_are_trimmed_as_http_does() -> None:
    assert parse_idempotency_key(" \tkey-1\t ") == "key-1"


@pytest.mark.parametrize("raw", ["key-1\u00a0", "\u0085key-1", "key-1\u2003"])
def test_unicode_whitespace_around_a_key_is_not_trimmed_into_another_key(raw: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_idempotency_key(raw)
    assert caught.value.slug == "idempotency-key-malformed"


@pytest.mark.parametrize("raw", ['"   "', '" "'], ids=["spaces", "one-space"])
def test_quoted_key_of_only_spaces_is_a_400_like_its_bare_form(raw: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_idempotency_key(raw)
    assert caught.value.slug == "idempotency-key-malformed"


def test_quoted_key_with_spaces_around_it_is_the_same_key_as_its_bare_form() -> None:
    assert parse_idempotency_key('" pad "') == parse_idempotency_key(" pad ") == "pad"


def test_a_key_sent_in_two_header_fields_is_a_400() -> None:
    with pytest.raises(ProblemError) as caught:
        parse_idempotency_keys(["first", "second"])
    assert caught.value.status == 400
    assert caught.value.slug == "idempotency-key-malformed"
    assert "more than once" in caught.value.detail


def test_the_same_key_sent_twice_is_still_a_400() -> None:
    # Which copy a proxy or client library meant cannot be known; neither wins.
    with pytest.raises(ProblemError):
        parse_idempotency_keys(["same", "same"])
