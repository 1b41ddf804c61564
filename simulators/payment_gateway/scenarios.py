"""Which payment methods make the gateway decline, stall or fail (see the package docstring)."""

from __future__ import annotations

from simulators.faults import SUCCEED, Plan

DECLINED = "tok_declined"
FLAKY = "tok_flaky"
GATEWAY_DOWN = "tok_gateway_down"
FLAKY_FAILURES = 2

CARD_DECLINED = "card_declined"
FAILURE_MESSAGES = {CARD_DECLINED: "Your card was declined."}

_PLANS = {
    DECLINED: Plan(failure_code=CARD_DECLINED),
    FLAKY: Plan(unavailable_attempts=FLAKY_FAILURES),
    GATEWAY_DOWN: Plan(always_unavailable=True),
}


def plan_for(payment_method: str) -> Plan:
    return _PLANS.get(payment_method, SUCCEED)
