"""Which postal codes make the carrier reject, stall or fail (see the package docstring)."""

from __future__ import annotations

import re

from simulators.faults import SUCCEED, Plan

UNAVAILABLE_POSTAL_CODE = "00000"
REJECTED_POSTAL_CODE = "99999"
# "0000N": unavailable for the first N tries with one key.
_FLAKY_POSTAL_CODE = re.compile(r"0000([1-9])")

ADDRESS_REJECTED = "address_rejected"
FAILURE_MESSAGES = {ADDRESS_REJECTED: "The carrier cannot deliver to this address."}


def plan_for(postal_code: str) -> Plan:
    if postal_code == UNAVAILABLE_POSTAL_CODE:
        return Plan(always_unavailable=True)
    if postal_code == REJECTED_POSTAL_CODE:
        return Plan(failure_code=ADDRESS_REJECTED)
    flaky = _FLAKY_POSTAL_CODE.fullmatch(postal_code)
    if flaky is not None:
        return Plan(unavailable_attempts=int(flaky.group(1)))
    return SUCCEED
