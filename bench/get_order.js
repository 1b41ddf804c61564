// One order by primary key for its owner: token check, one indexed read plus its items and history.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, authHeaders } from './common.js';

export { options } from './common.js';

export default function () {
  const res = http.get(`${BASE_URL}/orders/${__ENV.ORDER_ID}`, { headers: authHeaders() });
  check(res, {
    'status 200': (r) => r.status === 200,
    'same order': (r) => r.status === 200 && r.json('id') === __ENV.ORDER_ID,
  });
}
