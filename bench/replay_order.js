// A client retrying one request: the stored response is read back and nothing new is written.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, ORDER_BODY, orderHeaders } from './common.js';

export { options } from './common.js';

export default function () {
  const res = http.post(`${BASE_URL}/orders`, ORDER_BODY, {
    headers: orderHeaders(__ENV.REPLAY_KEY),
  });
  check(res, {
    'status 201': (r) => r.status === 201,
    replayed: (r) => r.headers['Idempotent-Replayed'] === 'true',
    'same order': (r) => r.status === 201 && r.json('id') === __ENV.ORDER_ID,
  });
}
