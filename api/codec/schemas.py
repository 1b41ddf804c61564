"""The JSON the Temporal UI sends a codec server: payloads in protobuf's JSON form."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Strict standard base64, as protobuf's JSON form writes bytes; anything else is a 422.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Base64 = Annotated[str, Field(pattern=BASE64_PATTERN, description="bytes, base64-encoded")]


class CodecPayload(BaseModel):
    # Fields the UI may add in later versions are ignored rather than refused.
    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Base64] = Field(
        default_factory=dict, description="e.g. `encoding`, `encryption-key-id`"
    )
    data: Base64 = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload]
