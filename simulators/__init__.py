"""Sandboxes of the third parties fulfilment calls: a payment gateway and a carrier.

Each is a small FastAPI service with its own ledger in PostgreSQL (schemas `payment_gateway`
and `carrier`), idempotent per `Idempotency-Key` the way real sandboxes are, and answering
errors as `{"error": "<code>", "message": "..."}` like the APIs they imitate. Magic inputs
script per-request outcomes (see each simulator's package docstring); the `*_sim_error_rate` and
`*_sim_latency_ms` settings slow down or fail a whole simulator.
"""
