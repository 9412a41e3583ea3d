import { z } from 'zod';
import { generateFields, strideWithinWindow } from '../../../api/index.js';
import { type SchemaBounds, exampleWindow } from '../../context.js';

/** POST /v1/generate's body; its bounds come from the configured limits and the model's length. */
export function generateBodySchema(bounds: SchemaBounds) {
  return z
    .strictObject(generateFields(bounds))
    .superRefine(strideWithinWindow(bounds))
    .meta({ example: { prompt: bounds.example.text, ...exampleWindow(bounds), seed: 1 } });
}
