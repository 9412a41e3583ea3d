import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMetrics, serverView } from '../../src/benchmark/server-view.js';

const BEFORE = `# HELP mdlm_queue_depth Sequences waiting for a forward pass
# TYPE mdlm_queue_depth gauge
mdlm_queue_depth 0
mdlm_batch_rows_sum 10
mdlm_batch_rows_count 8
mdlm_forward_pass_seconds_sum 0.5
mdlm_forward_pass_seconds_count 8
mdlm_generated_tokens_total 40
mdlm_requests_total{endpoint="/v1/generate",outcome="ok"} 3
`;

const AFTER = `mdlm_queue_depth 2
mdlm_batch_rows_sum 70
mdlm_batch_rows_count 28
mdlm_forward_pass_seconds_sum 2.5
mdlm_forward_pass_seconds_count 28
mdlm_forward_passes_total{status="ok"} 19
mdlm_forward_passes_total{status="failed"} 1
mdlm_generated_tokens_total 160
mdlm_requests_total{endpoint="/v1/generate",outcome="ok"} 9
mdlm_requests_total{endpoint="/v1/stream",outcome="overloaded"} 2
`;

test('parseMetrics sums a metric over its label sets and skips comments', () => {
  const values = parseMetrics(AFTER);
  assert.equal(values.get('mdlm_forward_passes_total'), 20);
  assert.equal(values.get('mdlm_requests_total'), 11);
  assert.equal(parseMetrics(BEFORE).has('mdlm_forward_passes_total'), false);
});

test('serverView: rates over the window, per-pass ratios, a labelled counter absent before counted from 0, and the queue samples', () => {
  const { server, note } = serverView({ values: parseMetrics(BEFORE) }, { values: parseMetrics(AFTER) }, [0, 2, 4], 4);
  assert.equal(note, null);
  assert.deepEqual(server, {
    forwardPassesPerS: 20 / 4,
    meanRowsPerPass: 60 / 20,
    tokensPerPass: 120 / 20,
    tokensPerRowPass: 120 / 60,
    meanPassMs: 2000 / 20,
    busy: 2 / 4,
    queueDepth: { mean: 2, max: 4 },
  });
});

test('serverView: a metric the server lacks leaves its figures null and is named; unreadable metrics leave them all out', () => {
  const withoutTokens = AFTER.replace(/^mdlm_generated_tokens_total .*$/m, '');
  const { server, note } = serverView({ values: parseMetrics(BEFORE) }, { values: parseMetrics(withoutTokens) }, [], 4);
  assert.equal(server?.tokensPerPass, null);
  assert.equal(server?.queueDepth, null);
  assert.equal(server?.forwardPassesPerS, 5);
  assert.equal(note, '/metrics lacks mdlm_generated_tokens_total');
  assert.deepEqual(serverView({ problem: 'GET /metrics answered 401' }, { values: new Map() }, [], 1), { server: null, note: 'GET /metrics answered 401' });
});
