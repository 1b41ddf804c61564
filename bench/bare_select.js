// Baseline: one SELECT by primary key per request through FastAPI + psycopg (bench/bare_app.py).
import http from 'k6/http';
import { check } from 'k6';

export { options } from './common.js';

export default function () {
  const res = http.get(`${__ENV.BARE_URL}/select/${__ENV.BARE_ID}`);
  check(res, { 'status 200': (r) => r.status === 200 });
}
