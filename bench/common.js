// Shared by every scenario, so all four run under the same load shape and report the same stats.
// bench/run.py sets every variable; the defaults only make a script runnable on its own.

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';

export const options = {
  vus: Number(__ENV.VUS || 10),
  duration: __ENV.DURATION || '20s',
  // Errors only: latency and throughput are judged as ratios to the baseline measured in the
  // same run, because absolute timings on a shared machine say more about the machine.
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function authHeaders(extra = {}) {
  return Object.assign({ Authorization: `Bearer ${__ENV.TOKEN}` }, extra);
}

export function orderHeaders(key) {
  return authHeaders({ 'Content-Type': 'application/json', 'Idempotency-Key': key });
}

export const ORDER_BODY = __ENV.ORDER_BODY || '{}';
