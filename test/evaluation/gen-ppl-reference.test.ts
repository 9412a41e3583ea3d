import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CausalScorer } from '../../src/evaluation/causal-scorer.js';
import { scoreRows } from '../../src/evaluation/evaluate.js';
import { generativePerplexity } from '../../src/evaluation/gen-ppl.js';
import { genPplFixture, gpt2FixtureDir } from '../helpers/fixtures.js';
import { exportVariant } from '../helpers/models.js';

const fixture = genPplFixture();
const scorer = await CausalScorer.open({ exportDir: await exportVariant(gpt2FixtureDir('gpt2-bare'), 'positions', 'fp32', true), device: 'cpu' });
after(() => scorer.close());

test('rows scored through the runtime give the reference\'s counted tokens, nll and gen PPL (the seed\'s procedure in numpy)', async (t) => {
  assert.equal(scorer.context, fixture.context);
  assert.equal(scorer.eosId, fixture.eos);
  for (const batchSize of [fixture.batch_size, 1, 4]) {
    const { nll, counted } = await scoreRows(fixture.rows, scorer, batchSize);
    assert.deepEqual(Array.from(counted), fixture.counted, `counted targets per row, batch size ${batchSize}`);
    let worst = 0;
    fixture.nll.forEach((expected, r) => {
      worst = Math.max(worst, Math.abs((nll[r] as number) - expected));
    });
    assert.ok(worst < 1e-3, `batch size ${batchSize}: max |Δ nll| per row ${worst}`);
    const total = nll.reduce((sum, value) => sum + value, 0);
    const ppl = generativePerplexity(total, counted.reduce((sum, value) => sum + value, 0));
    assert.ok(Math.abs(ppl / fixture.gen_ppl - 1) < 1e-5, `gen PPL ${ppl} vs ${fixture.gen_ppl}`);
    t.diagnostic(`batch size ${batchSize}: max |Δ nll| per row ${worst.toExponential(2)}, gen PPL ${ppl.toFixed(4)} vs reference ${fixture.gen_ppl.toFixed(4)}`);
  }
});

test('every row counts, whatever the batch size (the seed drops the rows past the last full batch)', async () => {
  assert.equal(fixture.rows.length % fixture.batch_size, 1, 'the fixture has one row past its last full batch');
  const { counted } = await scoreRows(fixture.rows, scorer, fixture.batch_size);
  assert.ok(Array.from(counted).every((count) => count > 0));
});
