import { ErrorCodes, fieldError } from '../../../errors.js';

/** What OpenAI answers for a model it does not serve. */
export function requireModel(requested: string, served: string): void {
  if (requested !== served) throw fieldError(ErrorCodes.modelNotFound, 'model', `the model ${JSON.stringify(requested)} is not served here; GET /v1/models lists ${JSON.stringify(served)}`);
}
