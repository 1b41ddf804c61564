// Baseline: the cheapest route there is (no database, no auth), so the other scenarios' figures
// can be read as "how many times the cost of just answering HTTP".
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL } from './common.js';

export { options } from './common.js';

export default function () {
  const res = http.get(`${BASE_URL}/health/live`);
  check(res, { 'status 200': (r) => r.status === 200 });
}
