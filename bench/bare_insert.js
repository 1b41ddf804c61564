// Baseline: one INSERT per request through FastAPI + psycopg (bench/bare_app.py).
import http from 'k6/http';
import { check } from 'k6';
import { ORDER_BODY } from './common.js';

export { options } from './common.js';

export default function () {
  const res = http.post(`${__ENV.BARE_URL}/insert`, ORDER_BODY, {
    headers: { 'Content-Type': 'application/json' },
  });
  check(res, { 'status 201': (r) => r.status === 201 });
}
