/** Pure formatting of the CLI: durations, the run tree, liveness, change lines, columns, option parsing. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../bin/cli/errors.js';
import {
  diffSnapshots,
  formatClock,
  formatDuration,
  formatTime,
  pluginTimes,
  renderRunTree,
  runLiveness,
  snapshotChanges,
  truncate,
} from '../../bin/cli/format.js';
import { createOutput, fitWidth, paint, redrawFrame, table, visibleLength } from '../../bin/cli/output.js';
import { parseDuration, parseMetadata, parseSince } from '../../bin/cli/parse.js';
import type { PluginRecord, RunRecord, RunSnapshot, StageRecord } from '../../lambdas/engine/records.js';

const T0 = '2026-11-23T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    workflow: 'order',
    uid: 'o-1',
    state: 'In Progress',
    generation: 1,
    activities: ['intake', 'fulfilment'],
    metadata: {},
    createdAt: T0,
    updatedAt: at(3),
    position: { activity: 'intake', stage: 'parallel' },
    stateTimes: { 'In Progress': T0 },
    ...overrides,
  };
}

function stage(overrides: Partial<StageRecord> & Pick<StageRecord, 'stage'>): StageRecord {
  return {
    workflow: 'order',
    uid: 'o-1',
    activity: 'intake',
    generation: 1,
    state: 'Complete',
    mode: 'parallel',
    mandatoryPending: 0,
    optionalPending: 0,
    createdAt: T0,
    updatedAt: at(2),
    stateTimes: { 'In Progress': T0, Complete: at(2) },
    ...overrides,
  };
}

function plugin(overrides: Partial<PluginRecord> & Pick<PluginRecord, 'plugin' | 'stage'>): PluginRecord {
  return {
    workflow: 'order',
    uid: 'o-1',
    activity: 'intake',
    generation: 1,
    state: 'Complete',
    mandatory: true,
    order: 90,
    attempt: 1,
    maxAttempts: 3,
    deadlineSeconds: 60,
    updatedAt: at(1),
    stateTimes: { 'In Progress': at(0.5), Complete: at(1.75) },
    ...overrides,
  };
}

const snapshot = (overrides: Partial<RunSnapshot> = {}): RunSnapshot => ({
  run: run(),
  stages: [
    stage({ stage: 'pre' }),
    stage({ stage: 'parallel', state: 'In Progress', stateTimes: { 'In Progress': at(2) } }),
  ],
  plugins: [
    plugin({ stage: 'pre', plugin: 'validate', order: 10, result: { valid: true } }),
    plugin({
      stage: 'parallel',
      plugin: 'charge',
      state: 'In Progress',
      attempt: 2,
      stateTimes: { 'In Progress': at(3) },
      message: 'retrying after: card\ndeclined',
    }),
    plugin({
      stage: 'parallel',
      plugin: 'audit',
      mandatory: false,
      state: 'Do Not Run',
      attempt: 0,
      stateTimes: { 'Do Not Run': at(2) },
    }),
  ],
  ...overrides,
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [12_345, '12.3s'],
    [245_000, '4m 05s'],
    [7_620_000, '2h 07m'],
    [273_600_000, '3d 04h'],
    [-1, '-'],
    [Number.NaN, '-'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('truncate', () => {
  it('keeps short text, flattens whitespace and cuts long text with an ellipsis', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('a\n  b', 10)).toBe('a b');
    expect(truncate('abcdefghijkl', 5)).toBe('abcd…');
  });
});

describe('pluginTimes', () => {
  it('takes the start from In Progress and the end from the final state only', () => {
    expect(pluginTimes(plugin({ stage: 'pre', plugin: 'p' }))).toEqual({ start: at(0.5), end: at(1.75) });
    expect(
      pluginTimes(
        plugin({
          stage: 'pre',
          plugin: 'p',
          state: 'In Progress',
          stateTimes: { 'In Progress': T0, Error: at(1) },
        }),
      ),
    ).toEqual({
      start: T0,
    });
  });
});

describe('renderRunTree', () => {
  const now = new Date(at(10));

  it('draws activity → stage → plugin with states, attempts, durations, messages and results', () => {
    const lines = renderRunTree(snapshot(), { now, color: false });

    expect(lines).toEqual([
      'order / o-1  In Progress  generation 1  started 2026-11-23 10:00:00 UTC  10.0s so far',
      '├─ intake  ← current',
      '│  ├─ pre  Complete  2.0s',
      '│  │  └─ validate  Complete  mandatory  attempt 1/3  1.3s',
      '│  │     result: {"valid":true}',
      '│  └─ parallel  In Progress  8.0s so far',
      '│     ├─ audit   Do Not Run  optional  attempt 0/3',
      '│     └─ charge  In Progress  mandatory  attempt 2/3  7.0s so far',
      '│        message: retrying after: card declined',
      '└─ fulfilment  not started',
    ]);
  });

  it('adds per-state timestamps and deadlines with verbose, and truncates results', () => {
    const lines = renderRunTree(
      snapshot({
        plugins: [
          plugin({ stage: 'pre', plugin: 'validate', result: { text: 'y'.repeat(100) }, deadline: at(60) }),
        ],
      }),
      { now, color: false, verbose: true, resultWidth: 20 },
    );

    expect(lines).toContain('  states: In Progress 2026-11-23 10:00:00 UTC');
    expect(lines).toContain('│  │     result: {"text":"yyyyyyyyyy…');
    expect(lines).toContain(
      '│  │     states: In Progress 2026-11-23 10:00:00 UTC · Complete 2026-11-23 10:00:01 UTC',
    );
    expect(lines).toContain('│  │     deadline: 2026-11-23 10:01:00 UTC');
  });

  it('flags a run without progress for 20 minutes as stuck', () => {
    const lines = renderRunTree(snapshot(), { now: new Date(at(25 * 60)), color: false });

    expect(lines[1]).toBe('  stuck: no progress for 24 min');
  });

  it('colours states only when asked', () => {
    const plain = renderRunTree(snapshot(), { now, color: false }).join('\n');
    const coloured = renderRunTree(snapshot(), { now, color: true }).join('\n');

    expect(plain).not.toContain('\u001b[');
    expect(coloured).toContain('\u001b[32mComplete\u001b[39m');
  });
});

describe('runLiveness', () => {
  it('uses the later of the run and the stage at its position, with 10/20 minute thresholds', () => {
    const r = run({ updatedAt: T0 });
    const minutes = (m: number) => new Date(Date.parse(T0) + m * 60_000);

    expect(runLiveness(r, undefined, minutes(9)).liveness).toBe('progressing');
    expect(runLiveness(r, undefined, minutes(10)).liveness).toBe('inactive');
    expect(runLiveness(r, undefined, minutes(20)).liveness).toBe('stuck');
    expect(runLiveness(r, { updatedAt: minutes(15).toISOString() }, minutes(20))).toMatchObject({
      liveness: 'progressing',
      minutesWithoutProgress: 5,
    });
  });
});

describe('diffSnapshots', () => {
  it('reports every component on the first read, then only what changed, with failure messages', () => {
    const before = snapshot();
    const after = snapshot({
      run: run({ state: 'Error', message: 'intake/parallel: charge: declined' }),
      plugins: [
        ...before.plugins.filter((p) => p.plugin !== 'charge'),
        plugin({ stage: 'parallel', plugin: 'charge', state: 'Error', attempt: 3, message: 'declined' }),
      ],
    });

    expect(diffSnapshots(undefined, before)).toContain('intake/parallel/charge: In Progress (attempt 2/3)');
    expect(diffSnapshots(before, after)).toEqual([
      'intake/parallel/charge: In Progress → Error (attempt 3/3) (declined)',
      'run: In Progress → Error (intake/parallel: charge: declined)',
    ]);
    expect(diffSnapshots(after, after)).toEqual([]);
  });
});

describe('watch changes', () => {
  /** Stored in key order (as a Query returns them): fulfilment before intake, post before pre. */
  const stored = (): RunSnapshot =>
    snapshot({
      stages: [
        stage({ activity: 'fulfilment', stage: 'pre', state: 'In Progress' }),
        stage({ stage: 'parallel' }),
        stage({ stage: 'post' }),
        stage({ stage: 'pre' }),
      ],
      plugins: [
        plugin({ activity: 'fulfilment', stage: 'pre', plugin: 'reserve', state: 'In Progress' }),
        plugin({ stage: 'parallel', plugin: 'charge' }),
        plugin({ stage: 'parallel', plugin: 'audit' }),
        plugin({ stage: 'post', plugin: 'record' }),
        plugin({ stage: 'pre', plugin: 'validate', order: 10 }),
      ],
    });

  it('lists the changes in workflow order: run, then activity by activity, stage by stage, plugins after their stage', () => {
    expect(diffSnapshots(undefined, stored()).map((line) => line.split(':')[0])).toEqual([
      'run',
      'intake/pre',
      'intake/pre/validate',
      'intake/parallel',
      'intake/parallel/audit',
      'intake/parallel/charge',
      'intake/post',
      'intake/post/record',
      'fulfilment/pre',
      'fulfilment/pre/reserve',
    ]);
  });

  it('lists the run last when it has ended', () => {
    const before = stored();
    const after = { ...before, run: run({ state: 'Complete' }) };

    expect(diffSnapshots(before, after)).toEqual(['run: In Progress → Complete']);
    expect(diffSnapshots(undefined, after).at(-1)).toBe('run: Complete');
  });

  it('gives each change as fields (for watch --json)', () => {
    const before = snapshot();
    const after = snapshot({
      plugins: [
        ...before.plugins.filter((p) => p.plugin !== 'charge'),
        plugin({ stage: 'parallel', plugin: 'charge', state: 'Error', attempt: 3, message: 'declined' }),
      ],
    });

    expect(snapshotChanges(before, after)).toEqual([
      {
        path: 'intake/parallel/charge',
        kind: 'plugin',
        activity: 'intake',
        stage: 'parallel',
        plugin: 'charge',
        generation: 1,
        from: 'In Progress',
        to: 'Error',
        attempt: 3,
        maxAttempts: 3,
        message: 'declined',
      },
    ]);
  });
});

describe('times', () => {
  it('are printed with their zone', () => {
    expect(formatTime('2026-11-23T10:00:02.123Z')).toBe('2026-11-23 10:00:02 UTC');
    expect(formatTime('2026-11-23T10:00:02.123Z', false)).toBe('2026-11-23 10:00:02');
    expect(formatClock(new Date('2026-11-23T10:00:02.123Z'))).toBe('10:00:02 UTC');
  });
});

describe('table', () => {
  it('aligns columns by their visible width, ignoring colour codes', () => {
    const lines = table([
      ['A', 'STATE', 'X'],
      ['long-name', paint(true, 'green', 'Complete'), 'y'],
    ]);

    expect(lines[0]).toBe('A          STATE     X');
    expect(visibleLength(lines[1] ?? '')).toBe('long-name  Complete  y'.length);
  });
});

describe('option parsing', () => {
  it('parses durations and refuses anything else as a usage error', () => {
    expect(parseDuration('500ms', '--x')).toBe(500);
    expect(parseDuration('2h', '--x')).toBe(7_200_000);
    expect(() => parseDuration('2 hours', '--x')).toThrow(UsageError);
  });

  it('reads --since as a duration back from now or an ISO time', () => {
    const now = new Date(T0);
    expect(parseSince('30m', now)).toBe('2026-11-23T09:30:00.000Z');
    expect(parseSince('2026-11-22T00:00:00Z', now)).toBe('2026-11-22T00:00:00.000Z');
    expect(() => parseSince('yesterday', now)).toThrow(UsageError);
  });

  it('reads metadata inline or from @file, and only as a JSON object', () => {
    expect(parseMetadata('{"a":1}')).toEqual({ a: 1 });
    expect(parseMetadata('@m.json', () => '{"b":2}')).toEqual({ b: 2 });
    expect(() => parseMetadata('"text"')).toThrow(/must be a JSON object/);
    expect(() =>
      parseMetadata('@missing.json', () => {
        throw new Error('ENOENT');
      }),
    ).toThrow(/cannot read missing.json/);
  });
});

describe('watch on a terminal', () => {
  it('draws the first frame as is, and replaces the previous frame in place afterwards', () => {
    expect(redrawFrame(0, ['a', 'b'])).toBe('a\nb\n');
    expect(redrawFrame(2, ['c'])).toBe('\u001b[2F\u001b[0Jc\n');
  });

  it('cuts lines wider than the terminal so that none wraps', () => {
    const coloured = `ab ${paint(true, 'green', 'Complete')}`;

    expect(fitWidth(coloured, 40)).toBe(coloured);
    expect(fitWidth(coloured, 6)).toBe('ab Co…');
    expect(fitWidth('abcdef', undefined)).toBe('abcdef');
  });
});

describe('createOutput', () => {
  const streams = (isTTY: boolean) => ({
    stdout: { write: () => true, isTTY },
    stderr: { write: () => true },
  });

  it('paints with the same escape codes as before the switch to picocolors, and nothing when disabled', () => {
    expect(paint(true, 'green', 'ok')).toBe('\u001b[32mok\u001b[39m');
    expect(paint(true, 'red', 'x')).toBe('\u001b[31mx\u001b[39m');
    expect(paint(true, 'gray', 'x')).toBe('\u001b[90mx\u001b[39m');
    expect(paint(true, 'bold', 'x')).toBe('\u001b[1mx\u001b[22m');
    expect(paint(true, 'dim', 'x')).toBe('\u001b[2mx\u001b[22m');
    expect(paint(false, 'green', 'ok')).toBe('ok');
  });

  it('honours FORCE_COLOR in a pipe, and NO_COLOR over it', () => {
    expect(createOutput({}, streams(false), { FORCE_COLOR: '1' }).color).toBe(true);
    expect(createOutput({}, streams(true), { FORCE_COLOR: '0' }).color).toBe(false);
    expect(createOutput({}, streams(false), { FORCE_COLOR: '1', NO_COLOR: '1' }).color).toBe(false);
    expect(createOutput({}, streams(true), { NO_COLOR: '' }).color).toBe(true);
  });

  it('uses colour only on a TTY without NO_COLOR or TERM=dumb', () => {
    expect(createOutput({}, streams(true), {}).color).toBe(true);
    expect(createOutput({}, streams(false), {}).color).toBe(false);
    expect(createOutput({}, streams(true), { NO_COLOR: '1' }).color).toBe(false);
    expect(createOutput({}, streams(true), { TERM: 'dumb' }).color).toBe(false);
  });
});

describe('renderRunTree with attempt history', () => {
  const retried = plugin({
    stage: 'pre',
    plugin: 'charge',
    attempt: 3,
    message: 'charged',
    stateTimes: { 'In Progress': at(20), Complete: at(21) },
    history: [
      {
        attempt: 1,
        outcome: 'Error',
        startedAt: at(0),
        endedAt: at(2),
        message: 'card service down',
        errorCode: 'E_DOWN',
      },
      {
        attempt: 2,
        outcome: 'Timed Out',
        startedAt: at(5),
        endedAt: at(15),
        message: 'no report within 10 s',
      },
    ],
  });
  const tree = (history: boolean) =>
    renderRunTree(snapshot({ stages: [stage({ stage: 'pre' })], plugins: [retried] }), {
      now: new Date(at(30)),
      color: false,
      history,
    }).join('\n');

  it('shows the earlier attempts of a retried plugin with their messages, by default', () => {
    const text = tree(false);
    expect(text).toMatch(
      /attempt 1:\s+Error\s+started 2026-11-23 10:00:00\s+2\.0s\s+code E_DOWN\s+card service down/,
    );
    expect(text).toMatch(/attempt 2:\s+Timed Out.*no report within 10 s/);
    expect(text).not.toMatch(/attempt 3:/);
  });

  it('with history, lists every attempt, the current one last', () => {
    expect(tree(true)).toMatch(
      /attempt 2:[^\n]*\n[^\n]*attempt 3:\s+Complete\s+started 2026-11-23 10:00:20\s+1\.0s\s+charged/,
    );
  });
});
