import { z } from 'zod';

/** A whole number of things (tokens, steps, samples), at least `min`. */
export const count = (min = 0) => z.number().int().min(min);
