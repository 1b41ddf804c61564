"""AES-256-GCM encryption of every Temporal payload, so history holds no customer data in clear.

Each encrypted payload names its key in its metadata (`encryption-key-id`), so old runs stay
readable after a rotation. Payloads without the encrypted encoding pass through untouched: the
histories recorded before encryption (and any other clear payload) still decode and replay.
Search attributes are not payloads and stay readable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from foundation.payload_keys import PayloadKeyring

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12  # the GCM standard; random per payload, never reused with a key in practice


class PayloadDecryptionError(ValueError):
    """An encrypted payload this process cannot read (unknown key, or not intact)."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: PayloadKeyring) -> None:
        self._keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            self._decrypt(payload)
            if payload.metadata.get("encoding") == ENCRYPTED_ENCODING
            else payload
            for payload in payloads
        ]

    def _encrypt(self, payload: Payload) -> Payload:
        key_id = self._keyring.current_id
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too, so it cannot be swapped without failing the tag.
        sealed = AESGCM(self._keyring.current_key).encrypt(
            nonce, payload.SerializeToString(), key_id.encode()
        )
        return Payload(
            metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        key = self._keyring.keys.get(key_id)
        if key is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key '{key_id}', which ORDER_API_PAYLOAD_KEYS does not list"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            clear = AESGCM(key).decrypt(nonce, sealed, key_id.encode())
        except (InvalidTag, ValueError):
            raise PayloadDecryptionError(
                f"payload does not decrypt with key '{key_id}': altered, or not ours"
            ) from None
        return Payload.FromString(clear)
