/**
 * Small, dependency-free SVG charts for the static metrics report: a time-series line chart and a
 * horizontal grouped bar chart. Pure functions from data to markup; every text is escaped.
 */

/** A fixed, colour-blind-friendly palette (Okabe–Ito, then darker variants). */
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#8C6D00',
  '#000000',
  '#006046',
  '#9E3A00',
] as const;

export const colorAt = (i: number): string => PALETTE[i % PALETTE.length] ?? '#000000';

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface Point {
  /** Epoch milliseconds. */
  readonly t: number;
  readonly v: number;
}

export interface LineSeries {
  readonly label: string;
  readonly color: string;
  /** Sorted by time; a gap longer than 1.5 periods breaks the line. */
  readonly points: readonly Point[];
  /** Dashed line (e.g. the p99 next to a solid p50). */
  readonly dashed?: boolean;
  /** Draw one line through every point, however far apart (samples rather than a continuous signal). */
  readonly connectGaps?: boolean;
}

export interface LineChartInput {
  readonly series: readonly LineSeries[];
  readonly from: number;
  readonly to: number;
  /** Period of the points, in milliseconds (for gap detection). */
  readonly periodMs: number;
  readonly width?: number;
  readonly height?: number;
  /** Short unit shown above the y axis, e.g. `runs`, `ms`. */
  readonly unit?: string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

/** Rounds a positive step to 1, 2, 2.5 or 5 × 10^n. */
function niceStep(raw: number): number {
  if (raw <= 0 || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Y-axis ticks from 0 to at least `max`, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  const top = max > 0 ? max : 1;
  const step = niceStep(top / count);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks.at(-1) ?? 0) < top) ticks.push(Number(((ticks.at(-1) ?? 0) + step).toPrecision(12)));
  return ticks;
}

/** Compact number: 0, 7, 12.5, 1.2k, 3.4M. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  if (abs >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toFixed(value >= 10 || value <= -10 ? 1 : 2)));
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Time label in UTC: `HH:MM`, with the date when the range spans more than a day. */
export function formatTime(t: number, withDate: boolean): string {
  const d = new Date(t);
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return withDate ? `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${time}` : time;
}

/** Evenly spaced time ticks on round minutes/hours within [from, to]. */
export function timeTicks(from: number, to: number, count = 6): number[] {
  const span = Math.max(to - from, 60_000);
  const candidates = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * 60_000);
  const step = candidates.find((c) => span / c <= count) ?? 1440 * 60_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/** A line chart of time series; series without points are left out of the plot (the legend says so). */
export function lineChart(input: LineChartInput): string {
  const width = input.width ?? 640;
  const height = input.height ?? 240;
  const margin = { left: 52, right: 16, top: 18, bottom: 28 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const span = Math.max(input.to - input.from, 1);
  const max = Math.max(0, ...input.series.flatMap((s) => s.points.map((p) => p.v)));
  const ticks = niceTicks(max);
  const top = ticks.at(-1) ?? 1;
  const x = (t: number) => margin.left + ((t - input.from) / span) * plotW;
  const y = (v: number) => margin.top + plotH - (v / top) * plotH;
  const withDate = span > 86_400_000;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart line-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" ${FONT} font-size="11">`,
  ];
  for (const tick of ticks) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${ty}" y2="${ty}" stroke="#e3e6ea" stroke-width="1"/>`,
      `<text x="${margin.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#5b6470">${formatNumber(tick)}</text>`,
    );
  }
  if (input.unit) {
    parts.push(`<text x="4" y="${margin.top - 7}" fill="#5b6470">${escapeHtml(input.unit)}</text>`);
  }
  for (const tick of timeTicks(input.from, input.to)) {
    const tx = x(tick).toFixed(1);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#9aa3ad"/>`,
      `<text x="${tx}" y="${margin.top + plotH + 16}" text-anchor="middle" fill="#5b6470">${formatTime(tick, withDate)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#9aa3ad"/>`,
  );
  for (const series of input.series) {
    if (series.points.length === 0) continue;
    const label = escapeHtml(series.label);
    let d = '';
    let previous: Point | undefined;
    for (const point of series.points) {
      const gap =
        previous === undefined || (!series.connectGaps && point.t - previous.t > input.periodMs * 1.5);
      d += `${gap ? 'M' : 'L'}${x(point.t).toFixed(1)} ${y(point.v).toFixed(1)} `;
      previous = point;
    }
    parts.push(
      `<path class="series" data-series="${label}" d="${d.trim()}" fill="none" stroke="${series.color}" stroke-width="2" stroke-linejoin="round"${series.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${label}</title></path>`,
    );
    // Markers when they stay readable, and always for isolated points (a path of one point is invisible).
    const markers = series.points.filter(
      (p, i, all) =>
        series.points.length <= 90 ||
        series.connectGaps ||
        ((all[i - 1] === undefined || p.t - (all[i - 1]?.t ?? 0) > input.periodMs * 1.5) &&
          (all[i + 1] === undefined || (all[i + 1]?.t ?? 0) - p.t > input.periodMs * 1.5)),
    );
    for (const p of markers) {
      parts.push(
        `<circle class="point" data-series="${label}" cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="2.5" fill="${series.color}"><title>${label}: ${formatNumber(p.v)} at ${formatTime(p.t, true)} UTC</title></circle>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface BarGroup {
  readonly label: string;
  readonly color: string;
}

export interface BarChartInput {
  /** One row per category (e.g. `fulfilment/parallel/charge-card`). */
  readonly categories: readonly string[];
  /** The bars of each row, e.g. p50 and p99, or errors and timeouts. */
  readonly groups: readonly BarGroup[];
  /** `values[group][category]`; undefined = no data (no bar drawn). */
  readonly values: readonly (readonly (number | undefined)[])[];
  readonly width?: number;
  readonly unit?: string;
}

/** A horizontal grouped bar chart: category labels on the left, one bar per group, value at its end. */
export function barChart(input: BarChartInput): string {
  const width = input.width ?? 640;
  const labelWidth = Math.min(240, Math.max(90, ...input.categories.map((c) => c.length * 6.2 + 12)));
  const margin = { left: labelWidth, right: 48, top: input.unit ? 20 : 8, bottom: 24 };
  const barH = 12;
  const rowH = input.groups.length * (barH + 2) + 10;
  const plotW = width - margin.left - margin.right;
  const height = margin.top + margin.bottom + rowH * input.categories.length;
  const max = Math.max(0, ...input.values.flatMap((row) => row.filter((v): v is number => v !== undefined)));
  const ticks = niceTicks(max, 4);
  const top = ticks.at(-1) ?? 1;
  const x = (v: number) => margin.left + (v / top) * plotW;
  const plotBottom = height - margin.bottom;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" ${FONT} font-size="11">`,
  ];
  for (const tick of ticks) {
    const tx = x(tick).toFixed(1);
    parts.push(
      `<line class="grid" x1="${tx}" x2="${tx}" y1="${margin.top}" y2="${plotBottom}" stroke="#e3e6ea"/>`,
      `<text x="${tx}" y="${plotBottom + 15}" text-anchor="middle" fill="#5b6470">${formatNumber(tick)}</text>`,
    );
  }
  if (input.unit) {
    parts.push(
      `<text x="${width - margin.right}" y="12" text-anchor="end" fill="#5b6470">${escapeHtml(input.unit)}</text>`,
    );
  }
  input.categories.forEach((category, c) => {
    const rowTop = margin.top + c * rowH;
    parts.push(
      `<text x="${margin.left - 8}" y="${(rowTop + rowH / 2).toFixed(1)}" text-anchor="end" dominant-baseline="middle" fill="#1f2933">${escapeHtml(category)}</text>`,
    );
    input.groups.forEach((group, g) => {
      const value = input.values[g]?.[c];
      if (value === undefined) return;
      const by = rowTop + 5 + g * (barH + 2);
      const w = Math.max(value > 0 ? 1.5 : 0, x(value) - margin.left);
      const label = `${escapeHtml(category)} ${escapeHtml(group.label)}`;
      parts.push(
        `<rect class="bar" data-series="${label}" x="${margin.left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${group.color}"><title>${label}: ${formatNumber(value)}</title></rect>`,
        `<text x="${(margin.left + w + 4).toFixed(1)}" y="${by + barH / 2}" dominant-baseline="middle" fill="#5b6470">${formatNumber(value)}</text>`,
      );
    });
  });
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${plotBottom}" stroke="#9aa3ad"/>`,
  );
  parts.push('</svg>');
  return parts.join('');
}
