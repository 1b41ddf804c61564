"""Dead letters as operators see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: uuid.UUID
    workflow_id: str
    run_id: str
    failed_step: str
    error_type: str
    error_message: str
    attempts: int
    step_input: dict[str, Any]
    failed_at: datetime
    redriven_at: datetime | None
    resolved_at: datetime | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_after: int | None = Field(
        description="pass as `after` for the next page; null on the last page"
    )


class RedriveOut(BaseModel):
    dead_letter: DeadLetterOut
    run_id: str = Field(description="the new run of the order's workflow")
