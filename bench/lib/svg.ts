/**
 * What the bench charts share: SVG drawn by hand, rendered to PNG with resvg (a prebuilt binary from npm,
 * no install script). Text uses the machine's fonts (DejaVu Sans or any sans-serif); without fonts the
 * labels are missing, not the marks.
 */
import { writeFileSync } from 'node:fs';
import resvg from '@resvg/resvg-js';

const FONT = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";

const escape = (content: string) =>
  content.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const text = (x: number, y: number, content: string, attrs = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" ${attrs}>${escape(content)}</text>`;

/** 1, 2, 2.5 or 5 times a power of ten, at least `value`. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export const svgDocument = (width: number, height: number, body: readonly string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${body.join('\n')}\n</svg>\n`;

/** Renders an SVG document to a PNG file on a white background. */
export function writeSvgPng(svg: string, file: string): void {
  const rendered = new resvg.Resvg(svg, {
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  }).render();
  writeFileSync(file, rendered.asPng());
}
