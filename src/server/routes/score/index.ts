import { itemScoreJson } from '../../../api/index.js';
import type { ScoreResult } from '../../../generation/index.js';
import { ERROR_RESPONSES } from '../../errors.js';
import { disconnectSignal } from '../common/disconnect.js';
import { requireModel } from '../common/model-id.js';
import { routePlugin } from '../common/route-plugin.js';
import { type ScoreResponse, ScoreResponseSchema, scoreBodySchema } from './schemas.js';

const DESCRIPTION = `Likelihood of text under the model. elbo is the seed's ppl_eval estimator: the continuous-time NELBO, an upper
bound on −log p(x) averaged over masking orders, estimated with mc_samples draws of t (antithetic by default) and reported
with its standard error. ar is the exact log-likelihood of the left-to-right factorisation, log p(x_i | x_<i) with every
later position masked: one forward pass per token, deterministic, for models that ignore t. A context is never masked
and never scored; with a tokenizer that has a BOS (GPT-2's <|endoftext|>), what is scored follows it, as every training
row begins (add_special_tokens: false turns this off). Items longer than the model's window are refused with
sequence_too_long: mdlm eval ppl cuts a corpus into rows. The rows of a request share passes with everything else.`;

export const scoreRoutes = routePlugin('mdlm-routes-score', async (app) => {
  const { service, modelId, bounds } = app.mdlm;
  app.post(
    '/v1/score',
    {
      schema: {
        summary: 'Score text: NELBO or left-to-right log-likelihood',
        description: DESCRIPTION,
        tags: ['likelihood'],
        body: scoreBodySchema(bounds),
        response: { 200: ScoreResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.model !== undefined) requireModel(body.model, modelId);
      const prepared = service.prepareScore({
        items: body.items.map((item) => ({ input: item.text ?? item.token_ids ?? [], context: item.context })),
        method: body.method,
        mcSamples: body.mc_samples,
        seed: body.seed,
        antithetic: body.antithetic,
        antitheticGroup: body.antithetic_group,
        addSpecialTokens: body.add_special_tokens,
      });
      const result = await service.score(prepared, { signal: disconnectSignal(reply) });
      request.outcome.stats = result.stats;
      return scoreResponse(`score-${request.id}`, modelId, prepared.method, result);
    },
  );
});

function scoreResponse(id: string, model: string, method: ScoreResponse['method'], result: ScoreResult): ScoreResponse {
  return {
    id,
    model,
    method,
    seed: result.seed,
    items: result.items.map((item, index) => itemScoreJson(item, index)),
    stats: { forward_passes: result.stats.forwardPasses, wall_ms: result.stats.wallMs, queued_ms: result.stats.queuedMs },
  };
}
