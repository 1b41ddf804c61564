"""The codec server the Temporal UI calls to show encrypted payloads decoded (adrs/0009).

POST /codec/decode and /codec/encode take and answer `{"payloads": [...]}` in protobuf's JSON
form; the UI sends the namespace it shows in `X-Namespace` (one keyring serves every namespace).
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.body import json_body
from api.codec.access import allow_origin, preflight, require_codec_access
from api.codec.schemas import CodecPayload, CodecPayloads
from api.problems import ProblemError
from api.responses import problem_response_doc, problem_responses
from foundation.payload_codec import PayloadDecryptionError

router = APIRouter(prefix="/codec", tags=["codec"], dependencies=[Depends(require_codec_access)])
# Outside the router's dependencies: a preflight carries no token, so it has checks of its own.
preflight_router = APIRouter(prefix="/codec", include_in_schema=False)

CODEC_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodecPayloads"}}},
}
ACCESS = (
    "In production it needs an `admin` bearer token and answers browsers only from "
    "`ORDER_API_CODEC_UI_ORIGIN`; in dev it answers callers on loopback only, without a token."
)
RESPONSES = {
    200: {"description": "The payloads, in the order given"},
    **problem_responses(401, 413, 415),
    **problem_response_doc(
        422,
        {
            "validation-error": 'the body is not `{"payloads": [...]}` with base64 bytes',
            "payload-invalid": "a payload cannot be a Temporal Payload",
            "payload-undecryptable": "decode: its key is not configured, or it was altered",
        },
    ),
    **problem_response_doc(
        403,
        {
            "insufficient-scope": "production: the token lacks the `admin` scope",
            "origin-not-allowed": "the request comes from a page other than the Temporal UI",
            "loopback-only": "dev: the caller is not on loopback",
        },
    ),
}
Namespace = Annotated[
    str | None, Header(alias="X-Namespace", description="the namespace the UI is showing")
]
Body = Annotated[CodecPayloads, Depends(json_body(CodecPayloads))]


def _codec(request: Request) -> PayloadCodec:
    codec: PayloadCodec = request.app.state.payload_codec
    return codec


def _to_protos(body: CodecPayloads) -> list[Payload]:
    try:
        return [
            Payload(
                metadata={k: base64.b64decode(v) for k, v in p.metadata.items()},
                data=base64.b64decode(p.data),
            )
            for p in body.payloads
        ]
    except (ValueError, TypeError):
        # A metadata name protobuf cannot store (e.g. a lone surrogate in the JSON).
        raise ProblemError(422, "payload-invalid", "A payload is not a valid Payload.") from None


def _to_json(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


@router.post(
    "/decode",
    response_model=CodecPayloads,
    summary="Decrypt payloads for the Temporal UI",
    description=f"Payloads without the encrypted encoding come back unchanged. {ACCESS}",
    responses=RESPONSES,
    openapi_extra={"requestBody": CODEC_BODY},
)
async def decode(
    request: Request, response: Response, body: Body, _namespace: Namespace = None
) -> CodecPayloads:
    try:
        decoded = await _codec(request).decode(_to_protos(body))
    except PayloadDecryptionError as exc:
        raise ProblemError(422, "payload-undecryptable", f"Cannot decode: {exc}.") from None
    allow_origin(request, response)
    return _to_json(decoded)


@router.post(
    "/encode",
    response_model=CodecPayloads,
    summary="Encrypt payloads with the current key (for the UI's signal and query inputs)",
    description=ACCESS,
    responses=RESPONSES,
    openapi_extra={"requestBody": CODEC_BODY},
)
async def encode(
    request: Request, response: Response, body: Body, _namespace: Namespace = None
) -> CodecPayloads:
    encoded = await _codec(request).encode(_to_protos(body))
    allow_origin(request, response)
    return _to_json(encoded)


@preflight_router.options("/decode")
@preflight_router.options("/encode")
async def codec_preflight(request: Request) -> Response:
    return preflight(request)
