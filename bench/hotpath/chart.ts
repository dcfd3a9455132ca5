/** The bench/hotpath chart: panels of lines, one point per connection count and one line per scenario. */
import { niceCeil, svgDocument, text, writeSvgPng } from '../lib/svg.js';

export interface Line {
  label: string;
  color: string;
  /** Dashed, for a variant of another line (such as rate limiting on). */
  dashed?: boolean;
  /** One value per x, in the order of the chart's `xs`; NaN leaves a gap. */
  values: readonly number[];
}

export interface LinePanel {
  title: string;
  format: (value: number) => string;
  lines: readonly Line[];
  /** The top of the scale when every value is below it; else a round number above the highest value. */
  max?: number;
  /** Dashed horizontal lines, such as targets. */
  references?: readonly { value: number; label: string }[];
}

export interface LineChart {
  title: string;
  subtitle: string;
  xLabel: string;
  xs: readonly number[];
  panels: readonly LinePanel[];
}

const PANEL_WIDTH = 560;
const HEIGHT = 600;
function panelSvg(panel: LinePanel, chart: LineChart, left: number, width: number): string[] {
  const top = 100;
  const bottom = HEIGHT - 150;
  const plotLeft = left + 70;
  const plotWidth = width - 100;
  const values = panel.lines.flatMap((l) => l.values).filter((v) => Number.isFinite(v));
  const refs = panel.references ?? [];
  const highest = Math.max(0, ...values, ...refs.map((r) => r.value));
  const max = panel.max !== undefined && panel.max >= highest ? panel.max : niceCeil(highest * 1.08);
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  // Connection counts on a log scale: 10, 50, 100, 200 spread evenly enough to read.
  const lo = Math.log(Math.min(...chart.xs));
  const hi = Math.log(Math.max(...chart.xs));
  const x = (c: number) =>
    plotLeft + (hi > lo ? ((Math.log(c) - lo) / (hi - lo)) * plotWidth : plotWidth / 2);
  const out = [
    text(left + width / 2, top - 24, panel.title, 'font-size="16" font-weight="bold" text-anchor="middle"'),
  ];
  for (let i = 0; i <= 5; i += 1) {
    const v = (max * i) / 5;
    out.push(
      `<line x1="${plotLeft}" x2="${plotLeft + plotWidth}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${i === 0 ? '#444' : '#ddd'}"/>`,
      text(plotLeft - 8, y(v) + 4, panel.format(v), 'font-size="12" fill="#444" text-anchor="end"'),
    );
  }
  for (const c of chart.xs) {
    out.push(
      `<line x1="${x(c).toFixed(1)}" x2="${x(c).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#eee"/>`,
      text(x(c), bottom + 20, String(c), 'font-size="13" text-anchor="middle"'),
    );
  }
  out.push(
    text(
      plotLeft + plotWidth / 2,
      bottom + 42,
      chart.xLabel,
      'font-size="13" fill="#444" text-anchor="middle"',
    ),
  );
  for (const ref of refs) {
    out.push(
      `<line x1="${plotLeft}" x2="${plotLeft + plotWidth}" y1="${y(ref.value).toFixed(1)}" y2="${y(ref.value).toFixed(1)}" stroke="#c00" stroke-width="1.2" stroke-dasharray="6 4"/>`,
      text(
        plotLeft + plotWidth - 4,
        y(ref.value) - 5,
        ref.label,
        'font-size="11" fill="#c00" text-anchor="end"',
      ),
    );
  }
  for (const line of panel.lines) {
    const points = chart.xs.flatMap((c, i) => {
      const v = line.values[i] ?? Number.NaN;
      return Number.isFinite(v) ? [[x(c), y(v)] as const] : [];
    });
    if (points.length === 0) continue;
    const dash = line.dashed ? ' stroke-dasharray="7 4"' : '';
    out.push(
      `<polyline points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}" fill="none" stroke="${line.color}" stroke-width="2.5"${dash}/>`,
      ...points.map(
        ([px, py]) => `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3.5" fill="${line.color}"/>`,
      ),
    );
  }
  return out;
}

/** The chart as an SVG document; the legend lists the first panel's lines (every panel uses their colours). */
export function lineChartSvg(chart: LineChart): string {
  const WIDTH = Math.max(900, PANEL_WIDTH * chart.panels.length + 40);
  const body: string[] = [
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(WIDTH / 2, 34, chart.title, 'font-size="21" font-weight="bold" text-anchor="middle"'),
    text(WIDTH / 2, 58, chart.subtitle, 'font-size="13" fill="#555" text-anchor="middle"'),
  ];
  const panelWidth = (WIDTH - 20) / chart.panels.length;
  chart.panels.forEach((panel, i) => {
    body.push(...panelSvg(panel, chart, 10 + i * panelWidth, panelWidth - 10));
  });
  const lines = chart.panels[0]?.lines ?? [];
  const perRow = 4;
  const itemWidth = 250;
  lines.forEach((line, i) => {
    const row = Math.floor(i / perRow);
    const inRow = Math.min(perRow, lines.length - row * perRow);
    const x = (WIDTH - itemWidth * inRow) / 2 + (i % perRow) * itemWidth;
    const y = HEIGHT - 70 + row * 26;
    const dash = line.dashed ? ' stroke-dasharray="7 4"' : '';
    body.push(
      `<line x1="${x}" x2="${x + 28}" y1="${y - 5}" y2="${y - 5}" stroke="${line.color}" stroke-width="3"${dash}/>`,
      text(x + 36, y, line.label, 'font-size="13"'),
    );
  });
  return svgDocument(WIDTH, HEIGHT, body);
}

export function writeLineChartPng(chart: LineChart, file: string): void {
  writeSvgPng(lineChartSvg(chart), file);
}
