/**
 * The report's SVG charts: axis ticks, number and time labels, gaps in lines, escaping, bars.
 */
import { describe, expect, it } from 'vitest';
import {
  barChart,
  escapeHtml,
  formatNumber,
  formatTime,
  lineChart,
  niceTicks,
  timeTicks,
} from '../../metrics/svg-chart.js';

const T = Date.parse('2026-11-23T10:00:00.000Z');
const MIN = 60_000;

describe('axes and labels', () => {
  it('chooses round y ticks from zero that cover the maximum', () => {
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(2400)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
  });

  it('formats numbers compactly', () => {
    expect([0, 7, 12.5, 0.333, 950, 12_345, 3_400_000].map(formatNumber)).toEqual([
      '0',
      '7',
      '12.5',
      '0.33',
      '950',
      '12.3k',
      '3.4M',
    ]);
  });

  it('labels time in UTC, with the date for ranges over a day, on round minutes', () => {
    expect(formatTime(T + 5 * MIN, false)).toBe('10:05');
    expect(formatTime(T, true)).toBe('11-23 10:00');
    expect(timeTicks(T + 30_000, T + 30 * MIN)).toEqual([5, 10, 15, 20, 25, 30].map((m) => T + m * MIN));
  });

  it('escapes text for HTML and SVG', () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });
});

describe('line chart', () => {
  const points = (minutes: number[]) => minutes.map((m) => ({ t: T + m * MIN, v: m }));

  it('draws one path per series with data and leaves out series without points', () => {
    const svg = lineChart({
      series: [
        { label: 'order', color: '#111111', points: points([0, 1, 2]) },
        { label: 'refund', color: '#222222', points: [] },
      ],
      from: T,
      to: T + 3 * MIN,
      periodMs: MIN,
    });

    expect(svg.match(/<path class="series"/g)).toHaveLength(1);
    expect(svg).toContain('data-series="order"');
    expect(svg).not.toContain('data-series="refund"');
    expect(svg.match(/<circle class="point"/g)).toHaveLength(3);
  });

  it('breaks the line where periods are missing, unless the series connects its samples', () => {
    const broken = lineChart({
      series: [{ label: 'a', color: '#000', points: points([0, 1, 5, 6]) }],
      from: T,
      to: T + 7 * MIN,
      periodMs: MIN,
    });
    const connected = lineChart({
      series: [{ label: 'a', color: '#000', points: points([0, 1, 5, 6]), connectGaps: true }],
      from: T,
      to: T + 7 * MIN,
      periodMs: MIN,
    });

    const moves = (svg: string) => (svg.match(/ d="([^"]*)"/)?.[1] ?? '').match(/M/g)?.length;
    expect(moves(broken)).toBe(2);
    expect(moves(connected)).toBe(1);
  });

  it('escapes series labels', () => {
    const svg = lineChart({
      series: [{ label: '<b>x</b>', color: '#000', points: points([0]) }],
      from: T,
      to: T + MIN,
      periodMs: MIN,
    });

    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;b&gt;x&lt;/b&gt;');
  });
});

describe('bar chart', () => {
  it('draws a bar per group and category with a value, and none where a value is missing', () => {
    const svg = barChart({
      categories: ['intake/pre', 'intake/post'],
      groups: [
        { label: 'p50', color: '#111' },
        { label: 'p99', color: '#222' },
      ],
      values: [
        [100, undefined],
        [300, 500],
      ],
    });

    expect(svg.match(/<rect class="bar"/g)).toHaveLength(3);
    expect(svg).toContain('data-series="intake/post p99"');
    expect(svg).not.toContain('data-series="intake/post p50"');
    expect(svg).toContain('>500</text>');
  });
});
