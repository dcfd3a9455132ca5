/** The soak's chart: the samples over time, four panels (heap, resident memory, handles, event-loop delay). */
import { niceCeil, svgDocument, text, writeSvgPng } from '../lib/svg.js';

export interface Line {
  label: string;
  color: string;
  /** One value per time of the chart; NaN leaves a hole. */
  values: readonly number[];
  dashed?: boolean;
}

export interface TimePanel {
  title: string;
  unit: string;
  lines: readonly Line[];
  /** A straight line from (t0, y0) to (t1, y1), such as a fitted slope. */
  fit?: { t0: number; y0: number; t1: number; y1: number; label: string };
}

export interface TimeChart {
  title: string;
  subtitle: string;
  /** Seconds since the start, one per sample. */
  times: readonly number[];
  /** Samples before this many seconds are the warm-up (shaded). */
  warmupS: number;
  panels: readonly TimePanel[];
}

const WIDTH = 1400;
const PANEL_HEIGHT = 380;
const TOP = 90;
const COLUMNS = 2;

const axisLabel = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2).replace(/\.?0+$/, '');

function timeLabel(seconds: number, span: number): string {
  if (span <= 600) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}

function panelSvg(chart: TimeChart, panel: TimePanel, left: number, top: number, width: number): string[] {
  const plotLeft = left + 70;
  const plotTop = top + 40;
  const plotWidth = width - 100;
  const plotHeight = PANEL_HEIGHT - 120;
  const bottom = plotTop + plotHeight;
  const span = Math.max(1, chart.times.at(-1) ?? 1);
  const finite = panel.lines.flatMap((l) => l.values).filter((v) => Number.isFinite(v));
  const max = niceCeil(Math.max(0, ...finite) * 1.08);
  const x = (t: number) => plotLeft + (t / span) * plotWidth;
  const y = (v: number) => bottom - (v / max) * plotHeight;
  const out: string[] = [
    text(
      left + width / 2,
      top + 18,
      `${panel.title} (${panel.unit})`,
      'font-size="16" font-weight="bold" text-anchor="middle"',
    ),
    `<rect x="${plotLeft}" y="${plotTop}" width="${(x(Math.min(chart.warmupS, span)) - plotLeft).toFixed(1)}" height="${plotHeight}" fill="#f1f1f1"/>`,
    text(plotLeft + 6, plotTop + 14, 'warm-up', 'font-size="11" fill="#888"'),
  ];
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    out.push(
      `<line x1="${plotLeft}" x2="${plotLeft + plotWidth}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${i === 0 ? '#444' : '#ddd'}" stroke-width="1"/>`,
      text(plotLeft - 8, y(v) + 4, axisLabel(v), 'font-size="12" fill="#444" text-anchor="end"'),
    );
  }
  // Ticks at round times: seconds for a short run, minutes for a long one.
  const unit = span <= 600 ? 1 : 60;
  const step = niceCeil(span / unit / 6) * unit;
  for (let t = 0; t <= span + 1e-9; t += step) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${bottom}" y2="${bottom + 5}" stroke="#444"/>`,
      text(x(t), bottom + 20, timeLabel(t, span), 'font-size="12" fill="#444" text-anchor="middle"'),
    );
  }
  for (const line of panel.lines) {
    let path = '';
    let pen = false;
    line.values.forEach((value, i) => {
      const t = chart.times[i];
      if (t === undefined || !Number.isFinite(value)) {
        pen = false;
        return;
      }
      path += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(value).toFixed(1)} `;
      pen = true;
    });
    out.push(
      `<path d="${path.trim()}" fill="none" stroke="${line.color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
    );
  }
  if (panel.fit && [panel.fit.y0, panel.fit.y1].every(Number.isFinite)) {
    const { t0, y0, t1, y1, label } = panel.fit;
    out.push(
      `<line x1="${x(t0).toFixed(1)}" y1="${y(y0).toFixed(1)}" x2="${x(t1).toFixed(1)}" y2="${y(y1).toFixed(1)}" stroke="#c00" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      // Under the line: the heap as found runs above it.
      text(x(t1) - 4, y(y1) + 18, label, 'font-size="12" fill="#c00" text-anchor="end"'),
    );
  }
  panel.lines.forEach((line, i) => {
    const lx = plotLeft + i * 230;
    const ly = bottom + 46;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${line.color}" stroke-width="3"${line.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      text(lx + 28, ly, line.label, 'font-size="13"'),
    );
  });
  return out;
}

export function timeChartSvg(chart: TimeChart): string {
  const rows = Math.ceil(chart.panels.length / COLUMNS);
  const height = TOP + rows * PANEL_HEIGHT + 10;
  const body: string[] = [
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(WIDTH / 2, 34, chart.title, 'font-size="21" font-weight="bold" text-anchor="middle"'),
    text(WIDTH / 2, 58, chart.subtitle, 'font-size="13" fill="#555" text-anchor="middle"'),
  ];
  const panelWidth = (WIDTH - 20) / COLUMNS;
  chart.panels.forEach((panel, i) => {
    const left = 10 + (i % COLUMNS) * panelWidth;
    const top = TOP + Math.floor(i / COLUMNS) * PANEL_HEIGHT;
    body.push(...panelSvg(chart, panel, left, top, panelWidth - 10));
  });
  return svgDocument(WIDTH, height, body);
}

export function writeTimeChartPng(chart: TimeChart, file: string): void {
  writeSvgPng(timeChartSvg(chart), file);
}
