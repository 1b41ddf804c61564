"""Sandboxes of the third parties fulfilment calls: a payment gateway and a carrier.

Each is a small FastAPI service with its own ledger in an SQLite file of its own (under
`ORDER_API_DATA_DIR/simulators/`, see `storage` and `settings`), never in the Order API's
PostgreSQL: like a real third party, it keeps answering when the product's database is down.
Each is idempotent per `Idempotency-Key` the way real sandboxes are, and answers errors as
`{"error": "<code>", "message": "..."}` like the APIs they imitate. Magic inputs script
per-request outcomes (see each simulator's package docstring); the `*_sim_error_rate` and
`*_sim_latency_ms` settings slow down or fail a whole simulator.

They import nothing of the product beyond its settings and logging (an import-linter contract
checks it), so the two sides meet only over HTTP.
"""
