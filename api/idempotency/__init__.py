"""Idempotency-Key handling (draft-ietf-httpapi-idempotency-key-header)."""
