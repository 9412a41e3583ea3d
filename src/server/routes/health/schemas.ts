import { z } from 'zod';
import { count } from '../../../api/index.js';

export const AliveSchema = z.object({ status: z.literal('ok') });
export const ReadySchema = z
  .object({ status: z.literal('ready'), model: z.string(), provider: z.string(), ready_workers: count() })
  .meta({ example: { status: 'ready', model: 'kuleshov-group/mdlm-owt', provider: 'cpu', ready_workers: 1 } });
