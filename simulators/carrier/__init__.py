"""A carrier sandbox: shipments for an order's items to an address, idempotent per key.

Magic `address.postal_code` values script what creating a shipment does:

| postal_code        | answer                                                                   |
|--------------------|--------------------------------------------------------------------------|
| `00000`            | 503 `carrier_unavailable` on every try; nothing recorded                 |
| `99999`            | 422 `address_rejected`; recorded, so a retry with the key gets 422 again |
| `00001` … `00009`  | 503 `carrier_unavailable` for the first N tries with a key, then success |
| anything else      | 201, shipment `created` with a `TRK…` tracking number                    |

Every POST needs `Idempotency-Key`. Same key and body: the stored answer again, with 200 for a
success and `Idempotent-Replayed: true`; same key, other body: 422 `idempotency_key_reused`.
`GET /shipments?reference=<order id>` lists every shipment for an order, `rejected` ones
included (they have no tracking number).
"""
