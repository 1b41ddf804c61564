"""The AES-256 keys that encrypt Temporal payloads: parsed from settings, or a dev key on disk.

`ORDER_API_PAYLOAD_KEYS` is `id:base64key,id:base64key,...`; the first key is the current one
(it encrypts), every listed key decrypts. Rotating is: put a new key first, keep the old ones
listed until no history that needs them is kept any longer.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
DEV_KEY_FILE = "payload-keys"


class PayloadKeysError(ValueError):
    """Keys that cannot be used; the message names the rule, never a key."""


@dataclass(frozen=True)
class PayloadKeyring:
    current_id: str
    keys: Mapping[str, bytes]

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current_id]

    @classmethod
    def parse(cls, text: str) -> PayloadKeyring:
        keys: dict[str, bytes] = {}
        for entry in text.split(","):
            key_id, _, encoded = entry.strip().partition(":")
            if not KEY_ID.fullmatch(key_id) or key_id in keys:
                raise PayloadKeysError(
                    "must be comma-separated id:base64key pairs with unique ids of letters, "
                    "digits, '.', '_' or '-'"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                key = b""
            if len(key) != KEY_BYTES:
                raise PayloadKeysError(f"each key must be {KEY_BYTES} bytes, base64-encoded")
            keys[key_id] = key
        return cls(current_id=next(iter(keys)), keys=keys)

    def to_text(self) -> str:
        """The settings form, current key first."""
        ordered = [self.current_id, *(k for k in self.keys if k != self.current_id)]
        return ",".join(f"{k}:{base64.b64encode(self.keys[k]).decode()}" for k in ordered)


def generate_keyring(key_id: str) -> PayloadKeyring:
    return PayloadKeyring(current_id=key_id, keys={key_id: secrets.token_bytes(KEY_BYTES)})


def dev_keyring(data_dir: Path) -> PayloadKeyring:
    """The dev key under `data_dir`, generated (mode 0600) the first time any process asks.

    Written to a private temporary file and then linked into place, so the API and the worker
    starting together both end up with the one key, never a half-written file.
    """
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        text = generate_keyring(f"dev-{secrets.token_hex(4)}").to_text()
        draft = data_dir / f".{DEV_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first; its key is the one
        finally:
            draft.unlink()
    return PayloadKeyring.parse(path.read_text().strip())
