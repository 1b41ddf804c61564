"""Temporal's stored history holds ciphertext: no address or payment method in clear.

Read back from the real server with a client that has no codec, as anyone with access to
Temporal (or its database) would read it; search attributes stay readable for the UI's filters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from foundation import search_attributes as sa
from foundation.payload_codec import ENCRYPTED_ENCODING
from foundation.settings import Settings
from tests.support import order_body, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
STREET = "742 Evergreen Terrace"
PAYMENT_METHOD = "tok_mastercard"


async def _completed_order(api: httpx.AsyncClient, auth: Auth, temporal: Client) -> dict[str, str]:
    address = {**order_body()["shipping_address"], "line1": STREET}  # type: ignore[dict-item]
    body = order_body(shipping_address=address, payment_method=PAYMENT_METHOD)
    placed = await api.post("/orders", json=body, headers=auth(key=f"private-{uuid.uuid4()}"))
    assert placed.status_code == 201, placed.text
    order: dict[str, str] = placed.json()
    await (await started_run(temporal, order["workflow_id"])).result()
    return order


async def _raw_client(settings: Settings) -> Client:
    """A client with no codec: what the server stores, as the server stores it."""
    return await Client.connect(
        settings.effective_temporal_address, namespace=settings.temporal_namespace
    )


async def test_stored_history_holds_no_address_or_payment_method_in_clear(
    api: httpx.AsyncClient, auth: Auth, temporal: Client, settings: Settings
) -> None:
    order = await _completed_order(api, auth, temporal)
    raw = await _raw_client(settings)
    history = await raw.get_workflow_handle(order["workflow_id"]).fetch_history()

    stored = history.to_json()
    assert STREET not in stored and "Evergreen" not in stored
    assert PAYMENT_METHOD not in stored
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    assert payload.metadata["encoding"] == ENCRYPTED_ENCODING


async def test_the_workers_codec_reads_the_stored_input_back(
    api: httpx.AsyncClient, auth: Auth, temporal: Client, settings: Settings
) -> None:
    order = await _completed_order(api, auth, temporal)
    raw = await _raw_client(settings)
    history = await raw.get_workflow_handle(order["workflow_id"]).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    stored: Payload = started.input.payloads[0]

    assert temporal.data_converter.payload_codec is not None
    [clear] = await temporal.data_converter.payload_codec.decode([stored])
    assert STREET.encode() in clear.data and PAYMENT_METHOD.encode() in clear.data


async def test_search_attributes_stay_readable_without_the_key(
    api: httpx.AsyncClient, auth: Auth, temporal: Client, settings: Settings
) -> None:
    order = await _completed_order(api, auth, temporal)
    raw = await _raw_client(settings)
    described = await raw.get_workflow_handle(order["workflow_id"]).describe()

    attributes = described.typed_search_attributes
    assert attributes.get(sa.ORDER_ID) == order["id"]
    assert attributes.get(sa.CUSTOMER_ID) == "alice"
    assert attributes.get(sa.ORDER_STATUS) == "COMPLETED"
