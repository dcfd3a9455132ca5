/** The bench/fanout chart: panels of grouped bars (one group per subscriber count, one bar per server). */
import { niceCeil, svgDocument, text, writeSvgPng } from '../lib/svg.js';

export interface Series {
  label: string;
  color: string;
  /** One value per group, in the order of `groups`; NaN draws no bar, Infinity a faded one to the top. */
  values: readonly number[];
}

export interface Panel {
  title: string;
  format: (value: number) => string;
  series: readonly Series[];
  /** A dashed horizontal line, such as a target. */
  reference?: { value: number; label: string };
}

export interface Chart {
  title: string;
  subtitle: string;
  groups: readonly string[];
  panels: readonly Panel[];
}

const PANEL_WIDTH = 520;
const HEIGHT = 560;
function panelSvg(panel: Panel, groups: readonly string[], left: number, width: number): string[] {
  const reference = panel.reference;
  const top = 110;
  const bottom = HEIGHT - 110;
  const plotLeft = left + 70;
  const plotWidth = width - 90;
  const plotHeight = bottom - top;
  const all = panel.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const max = niceCeil(Math.max(0, ...all, reference?.value ?? 0) * 1.12);
  const y = (v: number) => bottom - (v / max) * plotHeight;
  const out: string[] = [
    text(left + width / 2, top - 28, panel.title, 'font-size="17" font-weight="bold" text-anchor="middle"'),
  ];
  for (let i = 0; i <= 5; i += 1) {
    const v = (max * i) / 5;
    out.push(
      `<line x1="${plotLeft}" x2="${plotLeft + plotWidth}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${i === 0 ? '#444' : '#ddd'}" stroke-width="1"/>`,
      text(plotLeft - 8, y(v) + 4, panel.format(v), 'font-size="12" fill="#444" text-anchor="end"'),
    );
  }
  if (reference) {
    out.push(
      `<line x1="${plotLeft}" x2="${plotLeft + plotWidth}" y1="${y(reference.value).toFixed(1)}" y2="${y(reference.value).toFixed(1)}" stroke="#c00" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      text(plotLeft + 6, y(reference.value) - 6, reference.label, 'font-size="12" fill="#c00"'),
    );
  }
  const groupWidth = plotWidth / groups.length;
  const barCount = panel.series.length;
  const barWidth = Math.min(56, (groupWidth * 0.8) / barCount);
  groups.forEach((group, g) => {
    const groupLeft = plotLeft + g * groupWidth + (groupWidth - barWidth * barCount) / 2;
    panel.series.forEach((series, s) => {
      const value = series.values[g] ?? Number.NaN;
      const x = groupLeft + s * barWidth;
      if (value === Number.POSITIVE_INFINITY) {
        // Off the scale (deliveries that never came): a faded bar to the top.
        out.push(
          `<rect x="${(x + 2).toFixed(1)}" y="${top}" width="${(barWidth - 4).toFixed(1)}" height="${plotHeight}" fill="${series.color}" fill-opacity="0.3"/>`,
          text(x + barWidth / 2, top - 5, '∞', 'font-size="13" fill="#222" text-anchor="middle"'),
        );
        return;
      }
      if (!Number.isFinite(value)) {
        out.push(
          text(x + barWidth / 2, bottom - 6, 'n/a', 'font-size="11" fill="#888" text-anchor="middle"'),
        );
        return;
      }
      out.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(bottom - y(value)).toFixed(1)}" fill="${series.color}"/>`,
        text(
          x + barWidth / 2,
          y(value) - 5,
          panel.format(value),
          'font-size="11" fill="#222" text-anchor="middle"',
        ),
      );
    });
    out.push(
      text(plotLeft + (g + 0.5) * groupWidth, bottom + 24, group, 'font-size="14" text-anchor="middle"'),
    );
  });
  return out;
}

/** The chart as an SVG document. */
export function chartSvg(chart: Chart): string {
  const WIDTH = Math.max(900, PANEL_WIDTH * chart.panels.length + 40);
  const body: string[] = [
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(WIDTH / 2, 36, chart.title, 'font-size="21" font-weight="bold" text-anchor="middle"'),
    text(WIDTH / 2, 60, chart.subtitle, 'font-size="13" fill="#555" text-anchor="middle"'),
  ];
  const panelWidth = (WIDTH - 20) / chart.panels.length;
  chart.panels.forEach((panel, i) => {
    body.push(...panelSvg(panel, chart.groups, 10 + i * panelWidth, panelWidth - 10));
  });
  // One legend for every panel: they share their series.
  const series = chart.panels[0]?.series ?? [];
  const itemWidth = 210;
  const legendLeft = (WIDTH - itemWidth * series.length) / 2;
  series.forEach((s, i) => {
    const x = legendLeft + i * itemWidth;
    body.push(
      `<rect x="${x}" y="${HEIGHT - 46}" width="16" height="16" fill="${s.color}"/>`,
      text(x + 24, HEIGHT - 33, s.label, 'font-size="14"'),
    );
  });
  return svgDocument(WIDTH, HEIGHT, body);
}

/** Renders the chart to a PNG file. */
export function writeChartPng(chart: Chart, file: string): void {
  writeSvgPng(chartSvg(chart), file);
}
