"""What a started API has done to its own process before it serves."""

from __future__ import annotations

import gc

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_a_started_api_has_frozen_its_startup_objects_out_of_the_collectors_scans(
    api: httpx.AsyncClient,
) -> None:
    # Nothing else in the test process freezes, so the count comes from an API's start-up.
    assert gc.get_freeze_count() > 0
    assert (await api.get("/health/live")).status_code == 200
