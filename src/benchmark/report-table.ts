/** The sweep as markdown tables: per mix entry (client view and diffusion figures), per level (totals and the server's view), and the errors. */
import type { BenchHttpResult, EntryResult, LevelResult, Percentiles } from './result.js';

const DASH = '–';

const ENTRY_COLUMNS = [
  'request',
  'done',
  'failed',
  'req/s',
  'tokens/s',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'first event p50 / p99 ms',
  'steps / req',
  'NFE / req',
  'TPF',
  'queued ms',
];
const LEVEL_COLUMNS = [
  'connections',
  'req/s',
  'tokens/s',
  'forward passes/s',
  'rows / pass',
  'tokens / pass',
  'TPF (server)',
  'pass ms',
  'busy',
  'queue depth mean / max',
];
const ERROR_COLUMNS = ['request', 'status', 'code', 'count', 'first message'];
/** Columns of text (the rest are numbers, aligned right). */
const TEXT_COLUMNS = new Set(['request', 'code', 'first message']);

export function resultMarkdown(result: BenchHttpResult): string {
  const { model } = result;
  const window = result.requestsPerLevel === null ? `${result.durationS} s` : `${result.requestsPerLevel} requests`;
  const warmup = result.warmupS > 0 ? ` after ${result.warmupS} s of warm-up` : ', no warm-up';
  const loop = result.sweep === 'concurrency' ? 'Closed loop at each concurrency' : 'Requests sent at each rate';
  const mix = result.mix.map((entry) => `${entry.name} (${entry.endpoint}, weight ${entry.weight})`).join(', ');
  const lines = [
    `## mdlm bench http: ${model.id} (L ${model.modelLength}, ${model.parameterization}, provider ${model.provider}) at ${result.url}`,
    '',
    `Load generator: ${result.loadGenerator}. ${loop}, ${window} measured per level${warmup}; request seeds from ${result.seed}. Mix: ${mix}.`,
    '',
    ...table(
      result,
      ENTRY_COLUMNS,
      result.levels.flatMap((level) => level.entries.map((entry) => entryCells(level, entry))),
    ),
    '',
    ...table(result, LEVEL_COLUMNS, result.levels.map(levelCells)),
    ...notes(result),
    ...errorTable(result),
  ];
  return `${lines.join('\n')}\n`;
}

/** A table whose first column is the level; `rows` hold its cells, that level first. */
function table(result: BenchHttpResult, columns: readonly string[], rows: readonly string[][]): string[] {
  const header = [result.sweep === 'concurrency' ? 'concurrency' : 'rate /s', ...columns];
  return [row(header), row(header.map((column) => (TEXT_COLUMNS.has(column) ? '---' : '---:'))), ...rows.map(row)];
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function levelValue(level: LevelResult): string {
  return String(level.concurrency ?? level.rate);
}

function entryCells(level: LevelResult, entry: EntryResult): string[] {
  const { latencyMs: latency, diffusion } = entry;
  return [
    levelValue(level),
    entry.name,
    String(entry.completed),
    String(entry.failed),
    fixed(entry.requestsPerS, 1),
    fixed(entry.tokensPerS, 0),
    ms(latency?.p50),
    ms(latency?.p90),
    ms(latency?.p99),
    firstEvent(entry.firstEventMs),
    fixed(diffusion.stepsPerRequest, 1),
    fixed(diffusion.forwardPassesPerRequest, 1),
    fixed(diffusion.tokensPerForwardPass, 2),
    fixed(diffusion.queuedMs, 1),
  ];
}

function levelCells(level: LevelResult): string[] {
  const server = level.server;
  const queue = server?.queueDepth;
  return [
    levelValue(level),
    String(level.inFlight),
    fixed(level.requestsPerS, 1),
    fixed(level.tokensPerS, 0),
    fixed(server?.forwardPassesPerS, 1),
    fixed(server?.meanRowsPerPass, 2),
    fixed(server?.tokensPerPass, 2),
    fixed(server?.tokensPerRowPass, 2),
    fixed(server?.meanPassMs, 2),
    percent(server?.busy),
    queue === null || queue === undefined ? DASH : `${queue.mean.toFixed(1)} / ${queue.max}`,
  ];
}

function notes(result: BenchHttpResult): string[] {
  const distinct = [...new Set(result.levels.flatMap((level) => (level.serverNote === null ? [] : [level.serverNote])))];
  return distinct.length === 0 ? [] : ['', `Server figures missing: ${distinct.join('; ')}.`];
}

function errorTable(result: BenchHttpResult): string[] {
  const rows = result.levels.flatMap((level) =>
    level.entries.flatMap((entry) =>
      entry.errors.map((error) => [levelValue(level), entry.name, String(error.status ?? DASH), error.code, String(error.count), cell(error.message)]),
    ),
  );
  return rows.length === 0 ? [] : ['', ...table(result, ERROR_COLUMNS, rows)];
}

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined ? DASH : value.toFixed(digits);
}

function ms(value: number | undefined): string {
  return value === undefined ? DASH : value.toFixed(value < 10 ? 1 : 0);
}

function firstEvent(value: Percentiles | null): string {
  return value === null ? DASH : `${ms(value.p50)} / ${ms(value.p99)}`;
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${Math.round(value * 100)}%`;
}

/** A message inside a table cell: one line, no column separators. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 160);
}
