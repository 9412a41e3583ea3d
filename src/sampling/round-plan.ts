import type { SeededRandom } from '../random.js';
import { TimeGrid } from './time-grid.js';

export interface UnmaskGroup {
  step: number;
  /** Output positions that unmask at this step (step === grid.steps: noise removal). */
  positions: number[];
}

/**
 * When every masked position of one round unmasks, drawn up front (the first-hitting
 * construction of spec §4): one uniform per position, grouped by step. O(M log M) for M
 * masked positions, whatever the number of steps.
 */
export class RoundPlan {
  readonly grid: TimeGrid;
  readonly groups: UnmaskGroup[];

  constructor(grid: TimeGrid, maskedPositions: readonly number[], random: SeededRandom) {
    this.grid = grid;
    const byStep = new Map<number, number[]>();
    for (const position of maskedPositions) {
      const step = grid.unmaskStep(random.uniformPositive());
      const group = byStep.get(step);
      if (group === undefined) byStep.set(step, [position]);
      else group.push(position);
    }
    this.groups = [...byStep].sort((a, b) => a[0] - b[0]).map(([step, positions]) => ({ step, positions }));
  }
}
