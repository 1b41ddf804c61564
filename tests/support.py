"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def order_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "items": [{"sku": "WIDGET-1", "quantity": 2}, {"sku": "GIZMO-3", "quantity": 1}],
        "currency": "USD",
        "payment_method": "tok_visa",
        "shipping_address": {
            "name": "Alice Example",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    }
    body.update(overrides)
    return body


async def eventually(check: Callable[[], object], *, timeout: float = 20.0) -> None:
    """Poll an async or sync assertion until it passes or the timeout runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = private_key.public_key()
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
