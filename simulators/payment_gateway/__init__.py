"""A payment gateway sandbox: charges and refunds in minor units, idempotent per key.

Magic `payment_method` values script what a charge does:

| payment_method     | answer                                                                   |
|--------------------|--------------------------------------------------------------------------|
| `tok_visa`, others | 201, charge `succeeded`                                                  |
| `tok_declined`     | 402 `card_declined`; recorded (a `failed` charge), so a retry gets 402   |
| `tok_flaky`        | 503 `gateway_unavailable` for the first 2 tries with a key, then success |
| `tok_gateway_down` | 503 `gateway_unavailable` on every try; nothing recorded                 |

Every POST needs `Idempotency-Key`. Same key and body: the stored answer again, with 200 for a
success and `Idempotent-Replayed: true`; same key, other body: 422 `idempotency_key_reused`.
`GET /charges?reference=<order id>` lists every charge for an order, `failed` ones included,
each with its `refunded_amount`.
"""
