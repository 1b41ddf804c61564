"""Workflow ids are derived deterministically from (customer, Idempotency-Key)."""

from __future__ import annotations

from foundation.workflow_ids import order_workflow_id


def test_same_customer_and_key_always_give_the_same_id() -> None:
    assert order_workflow_id("alice", "k-1") == order_workflow_id("alice", "k-1")


def test_two_customers_with_the_same_key_get_different_ids() -> None:
    assert order_workflow_id("alice", "k-1") != order_workflow_id("bob", "k-1")


def test_different_keys_give_different_ids() -> None:
    assert order_workflow_id("alice", "k-1") != order_workflow_id("alice", "k-2")


def test_customer_and_key_cannot_be_shifted_into_each_other() -> None:
    assert order_workflow_id("ab", "c") != order_workflow_id("a", "bc")


def test_a_reused_expired_key_names_a_new_workflow() -> None:
    first = order_workflow_id("alice", "k-1", generation=1)
    second = order_workflow_id("alice", "k-1", generation=2)
    assert second != first
    assert second == f"{first}-2"


def test_id_is_bounded_whatever_the_key_length() -> None:
    assert len(order_workflow_id("alice", "k" * 255)) == len("order-") + 32
