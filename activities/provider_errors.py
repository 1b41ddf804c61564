"""How an HTTP provider's answer becomes a step's outcome, the same for the gateway and carrier.

2xx is success. 5xx and 429 mean the provider could not answer now: retryable, "unavailable".
Any other status is a refusal of the request itself, which a retry would only repeat: not
retryable, "rejected". A transport error never reached the provider: retryable, "unavailable".
Answers with a business meaning (a declined card, an undeliverable address) are the caller's to
recognise before falling back on this.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from temporalio.exceptions import ApplicationError

from activities.errors import step_failed
from workflows.contracts import ErrorType


@dataclass(frozen=True)
class Provider:
    """An HTTP service a step calls, as named in failure messages, and its two failure types."""

    name: str
    request: str
    unavailable: ErrorType
    rejected: ErrorType

    def unreachable(self, error: httpx.HTTPError) -> ApplicationError:
        return step_failed(f"{self.name} unreachable: {error!r}", self.unavailable, retryable=True)

    def not_accepted(self, response: httpx.Response) -> ApplicationError:
        """The failure for an answer that is neither a success nor a business outcome."""
        status = response.status_code
        if status >= 500 or status == httpx.codes.TOO_MANY_REQUESTS:
            return step_failed(f"{self.name} answered {status}", self.unavailable, retryable=True)
        return step_failed(
            f"{self.name} rejected the {self.request}: {status} {response.text[:200]}",
            self.rejected,
            retryable=False,
        )


PAYMENT_GATEWAY = Provider(
    name="gateway",
    request="charge",
    unavailable=ErrorType.PAYMENT_GATEWAY_UNAVAILABLE,
    rejected=ErrorType.PAYMENT_REQUEST_REJECTED,
)
CARRIER = Provider(
    name="carrier",
    request="shipment",
    unavailable=ErrorType.CARRIER_UNAVAILABLE,
    rejected=ErrorType.SHIPMENT_REQUEST_REJECTED,
)
