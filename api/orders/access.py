"""Which orders a caller may see: their own, or any with the admin scope.

Every route that takes an order id goes through `visible_order`, so an order that exists but
belongs to someone else answers exactly like one that does not exist (404), and ids cannot be
probed. Malformed ids are the same 404, so a route never says which ids are well-formed.
"""

from __future__ import annotations

import uuid

from api.auth import Principal
from api.orders.schemas import OrderOut
from api.orders.service import OrderService
from api.orders.views import OrderViews
from api.problems import ProblemError
from foundation.models import Order


def order_not_found() -> ProblemError:
    return ProblemError(404, "order-not-found", "No such order.")


def parse_order_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise order_not_found() from None


async def visible_order(service: OrderService, raw_id: str, principal: Principal) -> Order:
    order = await service.get(
        parse_order_id(raw_id), principal.subject, is_admin=principal.is_admin
    )
    if order is None:
        raise order_not_found()
    return order


async def visible_order_view(views: OrderViews, raw_id: str, principal: Principal) -> OrderOut:
    """Like `visible_order`, as the response GET /orders/{id} sends."""
    view = await views.find(
        parse_order_id(raw_id), None if principal.is_admin else principal.subject
    )
    if view is None:
        raise order_not_found()
    return view
