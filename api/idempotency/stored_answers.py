"""A key's stored answer, looked up before any transaction: a replay is one round trip.

Clients retry, so a good share of POSTs carry a key that already has its answer. That answer is
final until the key expires, so one autocommit read on the driver's own connection settles the
request. Anything else (no row yet, a claim in flight, an expired key) goes on to the claim,
which decides it under the key's lock (api/idempotency/repository.py).
"""

from __future__ import annotations

from api.idempotency.repository import Mismatch, Replay
from foundation.db import DriverPool, read_one
from foundation.domain import KeyState

STORED_ANSWER = """
    SELECT fingerprint, response_status, response_body, response_location
    FROM idempotency_keys
    WHERE principal = %(principal)s AND key = %(key)s
      AND state = %(completed)s AND expires_at > now()
"""


class StoredAnswers:
    def __init__(self, pool: DriverPool) -> None:
        self._pool = pool

    async def settle(self, principal: str, key: str, fingerprint: str) -> Replay | Mismatch | None:
        """The stored answer to replay, a reuse of the key with another request, or None."""
        params = {"principal": principal, "key": key, "completed": KeyState.COMPLETED.value}
        row = await read_one(self._pool, STORED_ANSWER, params, table="idempotency_keys")
        if row is None:
            return None
        stored_fingerprint, status, body, location = row
        if stored_fingerprint != fingerprint:
            return Mismatch()
        return Replay(status, body, location)
