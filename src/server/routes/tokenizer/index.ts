import { ERROR_RESPONSES } from '../../errors.js';
import { requireModel } from '../common/model-id.js';
import { routePlugin } from '../common/route-plugin.js';
import { DetokenizeBodySchema, DetokenizeResponseSchema, TokenizeBodySchema, TokenizeResponseSchema, TokenizerInfoSchema } from './schemas.js';

const TAGS = ['tokenizer'];

/** The served model's tokenizer, in vLLM's shapes: lm-evaluation-harness uses these as its remote tokenizer. */
export const tokenizerRoutes = routePlugin('mdlm-routes-tokenizer', async (app) => {
  const { service, modelId, bounds } = app.mdlm;
  const { modelLength } = service.model;
  const tokenizeBody = TokenizeBodySchema.meta({ example: { prompt: bounds.example.text, add_special_tokens: false } });
  const detokenizeBody = DetokenizeBodySchema.meta({ example: { tokens: bounds.example.tokenIds } });
  app.get('/tokenizer_info', { schema: { summary: "The tokenizer's special tokens and the model's window", tags: TAGS, response: { 200: TokenizerInfoSchema, ...ERROR_RESPONSES } } }, async () => {
    const { tokenizerClass, specialTokens, maskId, vocabSize } = service.tokenizerInfo;
    return {
      tokenizer_class: tokenizerClass ?? null,
      bos_token: specialTokens.bos ?? null,
      eos_token: specialTokens.eos ?? null,
      pad_token: specialTokens.pad ?? null,
      unk_token: specialTokens.unk ?? null,
      mask_token: specialTokens.mask ?? null,
      mask_token_id: maskId,
      vocab_size: vocabSize,
      model_max_length: modelLength,
      max_model_len: modelLength,
    };
  });

  app.post('/tokenize', { schema: { summary: 'Text to token ids', tags: TAGS, body: tokenizeBody, response: { 200: TokenizeResponseSchema, ...ERROR_RESPONSES } } }, async (request) => {
    if (request.body.model !== undefined) requireModel(request.body.model, modelId);
    const tokens = service.tokenize(request.body.prompt, request.body.add_special_tokens);
    return { tokens, count: tokens.length, max_model_len: modelLength };
  });

  app.post('/detokenize', { schema: { summary: 'Token ids to text', tags: TAGS, body: detokenizeBody, response: { 200: DetokenizeResponseSchema, ...ERROR_RESPONSES } } }, async (request) => {
    if (request.body.model !== undefined) requireModel(request.body.model, modelId);
    return { prompt: service.detokenize(request.body.tokens) };
  });
});
