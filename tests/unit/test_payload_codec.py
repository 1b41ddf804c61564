"""Payloads are sealed with AES-256-GCM under a named key, so keys can rotate."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from foundation.payload_codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
)
from foundation.payload_keys import (
    DEV_KEY_FILE,
    PayloadKeyring,
    PayloadKeysError,
    dev_keyring,
    generate_keyring,
)

ADDRESS = {"line1": "1 Secret Lane", "city": "Springfield"}


def _clear(value: object) -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload


def _rotated(old: PayloadKeyring, new: PayloadKeyring, *, keep_old: bool) -> PayloadKeyring:
    keys = {**new.keys, **(old.keys if keep_old else {})}
    return PayloadKeyring(current_id=new.current_id, keys=keys)


async def test_an_encoded_payload_holds_no_clear_text_and_names_its_key() -> None:
    keyring = generate_keyring("a")
    [sealed] = await EncryptionCodec(keyring).encode([_clear(ADDRESS)])

    assert b"Secret Lane" not in sealed.SerializeToString()
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"a"


async def test_decoding_gives_back_the_payload_exactly() -> None:
    codec = EncryptionCodec(generate_keyring("a"))
    clear = _clear(ADDRESS)

    assert await codec.decode(await codec.encode([clear])) == [clear]


async def test_two_encodings_of_one_payload_differ() -> None:
    codec = EncryptionCodec(generate_keyring("a"))
    first, second = await codec.encode([_clear(ADDRESS), _clear(ADDRESS)])

    assert first.data != second.data


async def test_a_payload_without_the_encrypted_encoding_passes_through() -> None:
    clear = _clear(ADDRESS)

    assert await EncryptionCodec(generate_keyring("a")).decode([clear]) == [clear]


async def test_after_rotation_the_old_key_still_decrypts_and_the_new_key_encrypts() -> None:
    old, new = generate_keyring("a"), generate_keyring("b")
    [sealed_with_a] = await EncryptionCodec(old).encode([_clear(ADDRESS)])
    rotated = EncryptionCodec(_rotated(old, new, keep_old=True))

    assert await rotated.decode([sealed_with_a]) == [_clear(ADDRESS)]
    [sealed_now] = await rotated.encode([_clear(ADDRESS)])
    assert sealed_now.metadata[KEY_ID_METADATA] == b"b"


async def test_a_payload_of_a_dropped_key_fails_naming_the_key() -> None:
    old, new = generate_keyring("a"), generate_keyring("b")
    [sealed_with_a] = await EncryptionCodec(old).encode([_clear(ADDRESS)])
    without_a = EncryptionCodec(_rotated(old, new, keep_old=False))

    with pytest.raises(PayloadDecryptionError, match="key 'a', which ORDER_API_PAYLOAD_KEYS"):
        await without_a.decode([sealed_with_a])


async def test_an_altered_payload_is_refused() -> None:
    codec = EncryptionCodec(generate_keyring("a"))
    [sealed] = await codec.encode([_clear(ADDRESS)])
    altered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + b"\x00")

    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([altered])


async def test_a_payload_cannot_be_relabelled_with_another_listed_key() -> None:
    keyring = _rotated(generate_keyring("a"), generate_keyring("b"), keep_old=True)
    [sealed] = await EncryptionCodec(keyring).encode([_clear(ADDRESS)])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"a"}, data=sealed.data)

    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(keyring).decode([relabelled])


async def test_the_data_converter_round_trips_a_value_through_the_codec() -> None:
    converter = dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(generate_keyring("a"))
    )
    sealed = await converter.encode([ADDRESS])

    assert b"Secret Lane" not in sealed[0].data
    assert await converter.decode(sealed, [dict]) == [ADDRESS]


def test_the_first_listed_key_is_current() -> None:
    text = f"{generate_keyring('b').to_text()},{generate_keyring('a').to_text()}"
    keyring = PayloadKeyring.parse(text)

    assert keyring.current_id == "b" and set(keyring.keys) == {"a", "b"}


@pytest.mark.parametrize(
    "text",
    ["", "no-colon", "a:not base64!", "a:" + "QUFB", "bad id:" + "A" * 44],
    ids=["empty", "no key", "not base64", "short key", "bad id"],
)
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(PayloadKeysError):
        PayloadKeyring.parse(text)


def test_a_repeated_key_id_is_refused() -> None:
    key = generate_keyring("a").to_text()
    with pytest.raises(PayloadKeysError, match="unique"):
        PayloadKeyring.parse(f"{key},{key}")


def test_the_dev_key_is_generated_once_private_to_its_owner(tmp_path: Path) -> None:
    first = dev_keyring(tmp_path)
    second = dev_keyring(tmp_path)

    assert first == second
    assert stat.S_IMODE(os.stat(tmp_path / DEV_KEY_FILE).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [DEV_KEY_FILE]
