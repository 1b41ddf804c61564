// The full intake path: claim a new key, insert the order, start its workflow, store the response.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, ORDER_BODY, orderHeaders } from './common.js';

export { options } from './common.js';

export default function () {
  // Unique per VU and iteration; RUN_ID keeps a rerun against the same stack from replaying.
  const key = `${__ENV.RUN_ID}-${__VU}-${__ITER}`;
  const res = http.post(`${BASE_URL}/orders`, ORDER_BODY, { headers: orderHeaders(key) });
  check(res, {
    'status 201': (r) => r.status === 201,
    'a new order': (r) => r.headers['Idempotent-Replayed'] === undefined,
  });
}
