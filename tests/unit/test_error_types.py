"""Error types are part of the record: histories, dead-letter rows and retry policies hold them."""

from __future__ import annotations

from workflows.contracts import ErrorType, RetryProfile, Step
from workflows.retry_policies import policy_for


def test_error_types_keep_the_names_already_recorded() -> None:
    assert {error.name: error.value for error in ErrorType} == {
        "OUT_OF_STOCK": "OutOfStock",
        "PAYMENT_DECLINED": "PaymentDeclined",
        "ADDRESS_REJECTED": "AddressRejected",
        "PAYMENT_GATEWAY_UNAVAILABLE": "PaymentGatewayUnavailable",
        "PAYMENT_REQUEST_REJECTED": "PaymentRequestRejected",
        "CARRIER_UNAVAILABLE": "CarrierUnavailable",
        "SHIPMENT_REQUEST_REJECTED": "ShipmentRequestRejected",
        "ORDER_FULFILLMENT_FAILED": "OrderFulfillmentFailed",
        "TOO_LATE_TO_CANCEL": "TooLateToCancel",
    }


def test_each_step_gives_up_at_once_on_its_business_answer_in_every_profile() -> None:
    for profile in RetryProfile:
        assert [
            policy_for(profile, step).retry.non_retryable_error_types
            for step in (Step.RESERVE_STOCK, Step.CHARGE_PAYMENT, Step.CREATE_SHIPMENT)
        ] == [["OutOfStock"], ["PaymentDeclined"], ["AddressRejected"]]
