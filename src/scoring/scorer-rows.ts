import type { PassRow, RowResult } from '../runtime/index.js';
import type { Sequence } from '../scheduler/index.js';
import type { ItemScore, ScoreWindow } from './types.js';

/** A row a scorer made, and what it was made for (a draw, a position). */
export interface KeyedRow<Key> {
  row: PassRow;
  key: Key;
}

/**
 * What every scorer does the same way as a scheduler sequence: it makes its rows one at a time,
 * as the scheduler takes them, and matches each result back to what its row was made for.
 * A scorer says how to make the next row and what a result adds.
 */
export abstract class ScorerRows<Key> implements Sequence {
  forwardPasses = 0;
  private pending: KeyedRow<Key> | undefined;
  private readonly keyOf = new Map<PassRow, Key>();

  constructor(protected readonly window: ScoreWindow) {}

  /** The next row to offer, or undefined once every row has been made. */
  protected abstract nextRow(): KeyedRow<Key> | undefined;

  /** Adds one row's result. */
  protected abstract add(key: Key, row: PassRow, result: RowResult): void;

  abstract result(): ItemScore;

  get windowLength(): number {
    return this.window.tokens.length;
  }

  get finished(): boolean {
    return this.peekRow() === undefined && this.keyOf.size === 0;
  }

  peekRow(): PassRow | undefined {
    this.pending ??= this.nextRow();
    return this.pending?.row;
  }

  takeRow(): PassRow {
    this.peekRow();
    if (this.pending === undefined) throw new Error('takeRow() without a ready row');
    const { row, key } = this.pending;
    this.pending = undefined;
    this.keyOf.set(row, key);
    return row;
  }

  apply(row: PassRow, result: RowResult): void {
    const key = this.keyOf.get(row);
    if (key === undefined) throw new Error('apply() for a row this scorer did not give');
    this.keyOf.delete(row);
    this.forwardPasses += 1;
    this.add(key, row, result);
  }
}
