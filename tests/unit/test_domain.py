"""The order rules every layer shares: the workflow enforces them, the API answers by them."""

from __future__ import annotations

import pytest

from foundation.domain import CANCELLABLE_STATUSES, OrderStatus


@pytest.mark.parametrize("status", [OrderStatus.RECEIVED, OrderStatus.RESERVED, OrderStatus.PAID])
def test_an_order_not_yet_with_the_carrier_can_be_cancelled(status: OrderStatus) -> None:
    assert status in CANCELLABLE_STATUSES


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.COMPLETED])
def test_an_order_handed_to_the_carrier_can_no_longer_be_cancelled(status: OrderStatus) -> None:
    assert status not in CANCELLABLE_STATUSES


@pytest.mark.parametrize("status", [OrderStatus.FAILED, OrderStatus.CANCELLED])
def test_an_order_that_has_ended_otherwise_cannot_be_cancelled(status: OrderStatus) -> None:
    assert status not in CANCELLABLE_STATUSES
