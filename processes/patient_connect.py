"""Connect to Temporal however long it takes, so a worker outlives a Temporal outage.

A worker that exits while Temporal is down only gets restarted into the same failure; waiting here
keeps it one process, and it starts polling the moment Temporal answers again.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.runtime import Runtime

from foundation.settings import Settings
from foundation.temporal_client import connect_temporal

logger = logging.getLogger(__name__)
FIRST_WAIT_SECONDS = 0.5
MAX_WAIT_SECONDS = 5.0


async def connect_when_reachable(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    wait = FIRST_WAIT_SECONDS
    while True:
        try:
            return await connect_temporal(settings, runtime=runtime)
        except RuntimeError as exc:
            # An unreachable server surfaces as a bare RuntimeError("Failed client connect: ...").
            logger.warning(
                "Temporal at %s unreachable (%s); retrying in %.1fs",
                settings.effective_temporal_address,
                exc,
                wait,
            )
        await asyncio.sleep(wait)
        wait = min(wait * 2, MAX_WAIT_SECONDS)
