"""Typed keys for the custom search attributes registered with the Temporal server."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")

# What a server must have registered before a workflow may set any of them; the dev server's
# arguments are derived from it (docker-compose.yml repeats the names, and a test compares them).
ALL_KEYS: tuple[SearchAttributeKey[str], ...] = (ORDER_ID, CUSTOMER_ID, ORDER_STATUS)
