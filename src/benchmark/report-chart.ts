/**
 * The sweep as one self-contained HTML page: an inline SVG of latency against throughput
 * (each mix entry a curve through its levels, p50 solid and p99 dashed), then the tables.
 * No script, stylesheet or font is fetched, so it opens offline.
 */
import { type BenchHttpResult, levelLabel } from './result.js';

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 70, right: 170, top: 30, bottom: 56 };
const PLOT = { width: WIDTH - MARGIN.left - MARGIN.right, height: HEIGHT - MARGIN.top - MARGIN.bottom };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const TICKS = 5;
const DASHED = { 'stroke-dasharray': '6 4' };

interface Point {
  x: number;
  y: number;
  /** The level's value (its concurrency or rate), and its whole name. */
  level: string;
  label: string;
}

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  points: Point[];
}

type Attributes = Record<string, string | number>;

export function resultChartHtml(result: BenchHttpResult, tables: string): string {
  const title = escapeXml(`mdlm bench http: ${result.model.id} at ${result.url}`);
  const about = `Each point is one ${result.sweep} level; latency of the successful requests (to the final event of a stream).`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}pre{font-size:12px;overflow-x:auto;background:#f6f6f6;padding:12px}</style>
</head>
<body>
<h1>${title}</h1>
<p>${escapeXml(`${result.loadGenerator}. ${about}`)}</p>
${latencyChart(result)}
<pre>${escapeXml(tables)}</pre>
</body>
</html>
`;
}

/** Latency (ms) against requests/s, one p50 and one p99 curve per mix entry. */
export function latencyChart(result: BenchHttpResult): string {
  const series = result.mix.flatMap((entry, index): Series[] => {
    const color = COLORS[index % COLORS.length] as string;
    const points = (percentile: 'p50' | 'p99') =>
      result.levels.flatMap((level) => {
        const measured = level.entries.find((candidate) => candidate.name === entry.name);
        const latency = measured?.latencyMs;
        if (measured === undefined || latency === null || latency === undefined) return [];
        return [{ x: measured.requestsPerS, y: latency[percentile], level: String(level.concurrency ?? level.rate), label: levelLabel(level) }];
      });
    return [
      { name: `${entry.name} p50`, color, dashed: false, points: points('p50') },
      { name: `${entry.name} p99`, color, dashed: true, points: points('p99') },
    ];
  });
  const all = series.flatMap((line) => line.points);
  const xMax = niceCeiling(Math.max(1, ...all.map((point) => point.x)));
  const yMax = niceCeiling(Math.max(1, ...all.map((point) => point.y)));
  const sx = (x: number) => round(MARGIN.left + (x / xMax) * PLOT.width);
  const sy = (y: number) => round(MARGIN.top + PLOT.height - (y / yMax) * PLOT.height);
  const bottom = MARGIN.top + PLOT.height;
  const svg = {
    xmlns: 'http://www.w3.org/2000/svg',
    width: WIDTH,
    height: HEIGHT,
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    'font-family': 'system-ui,sans-serif',
    'font-size': 12,
  };
  const parts = [
    `<svg${attributeText(svg)}>`,
    element('rect', { x: MARGIN.left, y: MARGIN.top, width: PLOT.width, height: PLOT.height, fill: 'none', stroke: '#999' }),
    ...ticks(xMax).flatMap((x) => [
      element('line', { x1: sx(x), y1: MARGIN.top, x2: sx(x), y2: bottom, stroke: '#eee' }),
      element('text', { x: sx(x), y: bottom + 18, 'text-anchor': 'middle' }, tickLabel(x)),
    ]),
    ...ticks(yMax).flatMap((y) => [
      element('line', { x1: MARGIN.left, y1: sy(y), x2: MARGIN.left + PLOT.width, y2: sy(y), stroke: '#eee' }),
      element('text', { x: MARGIN.left - 8, y: sy(y) + 4, 'text-anchor': 'end' }, tickLabel(y)),
    ]),
    element('text', { x: MARGIN.left + PLOT.width / 2, y: HEIGHT - 14, 'text-anchor': 'middle' }, 'requests/s (per entry)'),
    element('text', { transform: `translate(18 ${MARGIN.top + PLOT.height / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'latency, ms'),
    ...series.flatMap((line, index) => seriesSvg(line, sx, sy, index)),
    '</svg>',
  ];
  return parts.join('\n');
}

/** A curve with its points (each with a tooltip; the p50 ones labelled with their level) and its legend entry. */
function seriesSvg(line: Series, sx: (x: number) => number, sy: (y: number) => number, index: number): string[] {
  const stroke = { stroke: line.color, 'stroke-width': 2, ...(line.dashed ? DASHED : {}) };
  const legend = { x: WIDTH - MARGIN.right + 16, y: MARGIN.top + 10 + index * 18 };
  return [
    element('polyline', { points: line.points.map((point) => `${sx(point.x)},${sy(point.y)}`).join(' '), fill: 'none', ...stroke }),
    ...line.points.flatMap((point) => [
      parent('circle', { cx: sx(point.x), cy: sy(point.y), r: 3.5, fill: line.color }, [
        element('title', {}, `${line.name}, ${point.label}: ${format(point.x)} req/s, ${format(point.y)} ms`),
      ]),
      ...(line.dashed ? [] : [element('text', { x: sx(point.x) + 6, y: sy(point.y) - 6, 'font-size': 10, fill: line.color }, point.level)]),
    ]),
    element('line', { x1: legend.x, y1: legend.y, x2: legend.x + 24, y2: legend.y, ...stroke }),
    element('text', { x: legend.x + 30, y: legend.y + 4 }, line.name),
  ];
}

/** An SVG element, with its text (escaped) if it has any. */
function element(name: string, attributes: Attributes, text?: string): string {
  return text === undefined ? `<${name}${attributeText(attributes)}/>` : parent(name, attributes, [escapeXml(text)]);
}

/** An SVG element around markup built by `element`. */
function parent(name: string, attributes: Attributes, children: readonly string[]): string {
  return `<${name}${attributeText(attributes)}>${children.join('')}</${name}>`;
}

function attributeText(attributes: Attributes): string {
  return Object.entries(attributes)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join('');
}

/** The smallest 1, 2 or 5 × 10^k at or above `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((step) => step * power >= value) as number) * power;
}

function ticks(max: number): number[] {
  return Array.from({ length: TICKS + 1 }, (_, i) => (max * i) / TICKS);
}

/** Ticks are round numbers: at most four significant digits, no trailing zeros. */
function tickLabel(value: number): string {
  return String(Number(value.toPrecision(4)));
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
