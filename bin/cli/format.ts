/**
 * Pure formatting of runs for people: durations, state colours, the activity → stage → plugin tree,
 * liveness of an active run. No I/O here (unit-tested in test/unit/cli-format.test.ts).
 */
import {
  FINAL_PLUGIN_STATES,
  isFinalRunState,
  type PluginState,
  STAGE_NAMES,
  STATES,
} from '../../lambdas/contracts/index.js';
import {
  attemptsOf,
  currentStageOf,
  type PluginRecord,
  type RunRecord,
  type RunSnapshot,
  type StageRecord,
} from '../../lambdas/engine/records.js';
import { classifyRun, type Liveness } from '../../metrics/liveness.js';
import { paint, type Style } from './output.js';

/** The metrics stack's liveness rule: no progress for 10 minutes = inactive, 20 = stuck. */
export const LIVENESS_THRESHOLDS = { inactiveMinutes: 10, stuckMinutes: 20 } as const;

/** `850ms`, `12.3s`, `4m 05s`, `2h 07m`, `3d 04h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const totalSeconds = Math.floor(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes}m ${String(totalSeconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  const days = Math.floor(hours / 24);
  return `${days}d ${String(hours % 24).padStart(2, '0')}h`;
}

/** Milliseconds between two ISO times (`end` defaults to `now`); undefined without a start. */
export function elapsed(start: string | undefined, end: string | undefined, now: Date): number | undefined {
  if (start === undefined) return undefined;
  const from = Date.parse(start);
  const to = end === undefined ? now.getTime() : Date.parse(end);
  if (Number.isNaN(from) || Number.isNaN(to)) return undefined;
  return Math.max(0, to - from);
}

/** The zone every time the CLI prints is in (the records' times are UTC). */
export const TIME_ZONE = 'UTC';

/** `2026-11-23 10:00:02 UTC` from an ISO time (without the zone for a column headed with it). */
export function formatTime(iso: string | undefined, withZone = true): string {
  if (iso === undefined) return '-';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = date.toISOString().replace('T', ' ').slice(0, 19);
  return withZone ? `${text} ${TIME_ZONE}` : text;
}

/** `10:00:02 UTC`: the time of day, for lines of one run followed live. */
export function formatClock(date: Date): string {
  return `${date.toISOString().slice(11, 19)} ${TIME_ZONE}`;
}

/** Cuts a text to `max` characters with `…` and keeps it on one line. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}

export function stateStyle(state: string): Style {
  switch (state) {
    case STATES.complete:
      return 'green';
    case STATES.error:
    case STATES.timedOut:
    case STATES.cancelled:
      return 'red';
    case STATES.inProgress:
    case STATES.mandatoryCompleted:
      return 'yellow';
    case STATES.doNotRun:
      return 'gray';
    default:
      return 'dim';
  }
}

export function formatState(state: string, color: boolean): string {
  return paint(color, stateStyle(state), state);
}

/** When a plugin started (its last `In Progress`) and ended (its final state), from `stateTimes`. */
export function pluginTimes(plugin: PluginRecord): { start?: string; end?: string } {
  const start = plugin.stateTimes[STATES.inProgress];
  const end = (FINAL_PLUGIN_STATES as readonly PluginState[]).includes(plugin.state)
    ? plugin.stateTimes[plugin.state]
    : undefined;
  return { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) };
}

function stageTimes(stage: StageRecord): { start?: string; end?: string } {
  const start = stage.stateTimes[STATES.inProgress] ?? stage.createdAt;
  const final = [STATES.complete, STATES.error, STATES.cancelled] as string[];
  const end = final.includes(stage.state)
    ? stage.stateTimes[stage.state as keyof typeof stage.stateTimes]
    : undefined;
  return { start, ...(end !== undefined ? { end } : {}) };
}

function durationText(start: string | undefined, end: string | undefined, now: Date): string {
  const ms = elapsed(start, end, now);
  if (ms === undefined) return '';
  return end === undefined ? `${formatDuration(ms)} so far` : formatDuration(ms);
}

function stateTimesText(times: Readonly<Record<string, string | undefined>>): string {
  return Object.entries(times)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .sort((a, b) => a[1].localeCompare(b[1]))
    .map(([state, at]) => `${state} ${formatTime(at)}`)
    .join(' · ');
}

export interface TreeOptions {
  readonly now: Date;
  readonly color: boolean;
  readonly verbose?: boolean;
  /** Also list every attempt of each plugin (outcome, duration, message). */
  readonly history?: boolean;
  /** Characters of a result shown (JSON). @default 80 */
  readonly resultWidth?: number;
}

/** The run as lines: a header, then activity → stage → plugin with states, attempts and durations. */
export function renderRunTree(snapshot: RunSnapshot, options: TreeOptions): string[] {
  const { run } = snapshot;
  const { now, color } = options;
  const resultWidth = options.resultWidth ?? 80;
  const dim = (text: string) => paint(color, 'dim', text);
  const lines: string[] = [];
  const runEnd = run.endedAt;
  const runStart = run.stateTimes[STATES.inProgress] ?? run.createdAt;
  lines.push(
    [
      paint(color, 'bold', `${run.workflow} / ${run.uid}`),
      formatState(run.state, color),
      `generation ${run.generation}`,
      `started ${formatTime(runStart)}`,
      runEnd ? `ended ${formatTime(runEnd)}` : '',
      durationText(runStart, runEnd, now),
    ]
      .filter(Boolean)
      .join('  '),
  );
  if (run.message) lines.push(`  ${dim('message:')} ${truncate(run.message, 200)}`);
  if (options.verbose) lines.push(`  ${dim('states:')} ${stateTimesText(run.stateTimes)}`);
  if (!isFinalRunState(run.state)) {
    const live = runLiveness(run, stageAtPosition(snapshot), now);
    if (live.liveness !== 'progressing') {
      lines.push(
        `  ${paint(color, live.liveness === 'stuck' ? 'red' : 'yellow', live.liveness)}: no progress for ${live.minutesWithoutProgress} min`,
      );
    }
  }

  const activities = run.activities.length
    ? run.activities
    : [...new Set(snapshot.stages.map((s) => s.activity))];
  activities.forEach((activity, ai) => {
    const lastActivity = ai === activities.length - 1;
    const stages = STAGE_NAMES.map((name) =>
      snapshot.stages.find((s) => s.activity === activity && s.stage === name),
    ).filter((s): s is StageRecord => s !== undefined);
    const here = run.position?.activity === activity ? dim('  ← current') : '';
    lines.push(
      `${lastActivity ? '└─' : '├─'} ${paint(color, 'cyan', activity)}${stages.length ? '' : dim('  not started')}${stages.length ? here : ''}`,
    );
    const pad = lastActivity ? '   ' : '│  ';
    stages.forEach((stage, si) => {
      const lastStage = si === stages.length - 1;
      const { start, end } = stageTimes(stage);
      lines.push(
        `${pad}${lastStage ? '└─' : '├─'} ${[
          stage.stage,
          formatState(stage.state, color),
          durationText(start, end, now),
        ]
          .filter(Boolean)
          .join('  ')}`,
      );
      const stagePad = `${pad}${lastStage ? '   ' : '│  '}`;
      if (stage.message) lines.push(`${stagePad}${dim('message:')} ${truncate(stage.message, 200)}`);
      if (options.verbose) lines.push(`${stagePad}${dim('states:')} ${stateTimesText(stage.stateTimes)}`);
      const plugins = snapshot.plugins
        .filter((p) => p.activity === activity && p.stage === stage.stage)
        .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin));
      const width = Math.max(0, ...plugins.map((p) => p.plugin.length));
      plugins.forEach((plugin, pi) => {
        const lastPlugin = pi === plugins.length - 1;
        const times = pluginTimes(plugin);
        const head = [
          plugin.plugin.padEnd(width),
          formatState(plugin.state, color),
          plugin.mandatory ? 'mandatory' : 'optional',
          `attempt ${plugin.attempt}/${plugin.maxAttempts}`,
          durationText(times.start, times.end, now),
        ]
          .filter(Boolean)
          .join('  ');
        lines.push(`${stagePad}${lastPlugin ? '└─' : '├─'} ${head}`);
        const detailPad = `${stagePad}${lastPlugin ? '   ' : '│  '}`;
        if (plugin.message) lines.push(`${detailPad}${dim('message:')} ${truncate(plugin.message, 200)}`);
        if (plugin.result !== undefined) {
          lines.push(`${detailPad}${dim('result:')} ${truncate(JSON.stringify(plugin.result), resultWidth)}`);
        }
        if (plugin.lateReports) lines.push(`${detailPad}${dim('late reports:')} ${plugin.lateReports}`);
        if (options.history || (plugin.history?.length ?? 0) > 0) {
          for (const attempt of options.history ? attemptsOf(plugin) : (plugin.history ?? [])) {
            const text = [
              dim(`attempt ${attempt.attempt}:`),
              formatState(attempt.outcome, color),
              attempt.startedAt ? `started ${formatTime(attempt.startedAt, false)}` : '',
              durationText(attempt.startedAt, attempt.endedAt, now),
              attempt.errorCode ? `code ${attempt.errorCode}` : '',
              attempt.message ? truncate(attempt.message, 160) : '',
            ]
              .filter(Boolean)
              .join('  ');
            lines.push(`${detailPad}${text}`);
          }
        }
        if (options.verbose) {
          lines.push(`${detailPad}${dim('states:')} ${stateTimesText(plugin.stateTimes)}`);
          if (plugin.deadline) lines.push(`${detailPad}${dim('deadline:')} ${formatTime(plugin.deadline)}`);
        }
      });
    });
  });
  return lines;
}

/** The stage the run is at (its `updatedAt` counts as the run's progress). */
export function stageAtPosition(snapshot: RunSnapshot): StageRecord | undefined {
  return currentStageOf(snapshot.run, snapshot.stages);
}

/** Liveness of an active run by the metrics stack's rule (10 min inactive, 20 min stuck). */
export function runLiveness(
  run: RunRecord,
  stage: Pick<StageRecord, 'updatedAt'> | undefined,
  now: Date,
): { liveness: Liveness; minutesWithoutProgress: number; progress: string } {
  const classified = classifyRun(run, stage?.updatedAt, now, LIVENESS_THRESHOLDS);
  return {
    liveness: classified.liveness,
    minutesWithoutProgress: classified.minutesWithoutProgress,
    progress: classified.progress,
  };
}

/** One state change of a run, a stage or a plugin between two reads of the run (`watch`). */
export interface RunChange {
  /** `run`, `<activity>/<stage>` or `<activity>/<stage>/<plugin>`. */
  readonly path: string;
  readonly kind: 'run' | 'stage' | 'plugin';
  readonly activity?: string;
  readonly stage?: string;
  readonly plugin?: string;
  readonly generation: number;
  /** The state before; absent when the component is new (first read, or first seen). */
  readonly from?: string;
  readonly to: string;
  readonly attempt?: number;
  readonly maxAttempts?: number;
  /** Why a plugin failed or timed out, or how the run ended. */
  readonly message?: string;
}

/**
 * What changed between two snapshots of a run, in workflow order: the run when it starts, then each
 * activity of the run in order, its stages pre → parallel → post, each followed by its plugins (by
 * order, then name), and the run last when it ends.
 */
export function snapshotChanges(before: RunSnapshot | undefined, after: RunSnapshot): RunChange[] {
  const was = new Map<string, { state: string; key: string }>();
  if (before) {
    was.set('run', { state: before.run.state, key: before.run.state });
    for (const s of before.stages) {
      was.set(`${s.activity}/${s.stage}`, { state: s.state, key: `${s.state}#${s.generation}` });
    }
    for (const p of before.plugins) {
      was.set(`${p.activity}/${p.stage}/${p.plugin}`, {
        state: p.state,
        key: `${p.state}#${p.generation}#${p.attempt}`,
      });
    }
  }
  const changes: RunChange[] = [];
  const note = (change: RunChange, key: string) => {
    const previous = was.get(change.path);
    if (previous?.key === key) return;
    changes.push(previous === undefined ? change : { ...change, from: previous.state });
  };
  const { run } = after;
  const runChange = (): void =>
    note(
      {
        path: 'run',
        kind: 'run',
        generation: run.generation,
        to: run.state,
        ...(isFinalRunState(run.state) && run.message ? { message: run.message } : {}),
      },
      run.state,
    );
  const final = isFinalRunState(run.state);
  if (!final) runChange();
  const activities = [
    ...run.activities,
    ...new Set(after.stages.map((s) => s.activity).filter((a) => !run.activities.includes(a))),
  ];
  for (const activity of activities) {
    for (const stageName of STAGE_NAMES) {
      const stage = after.stages.find((s) => s.activity === activity && s.stage === stageName);
      if (stage) {
        note(
          {
            path: `${activity}/${stageName}`,
            kind: 'stage',
            activity,
            stage: stageName,
            generation: stage.generation,
            to: stage.state,
          },
          `${stage.state}#${stage.generation}`,
        );
      }
      const plugins = after.plugins
        .filter((p) => p.activity === activity && p.stage === stageName)
        .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin));
      for (const p of plugins) {
        const failed = p.state === STATES.error || p.state === STATES.timedOut;
        note(
          {
            path: `${activity}/${stageName}/${p.plugin}`,
            kind: 'plugin',
            activity,
            stage: stageName,
            plugin: p.plugin,
            generation: p.generation,
            to: p.state,
            attempt: p.attempt,
            maxAttempts: p.maxAttempts,
            ...(failed && p.message ? { message: p.message } : {}),
          },
          `${p.state}#${p.generation}#${p.attempt}`,
        );
      }
    }
  }
  if (final) runChange();
  return changes;
}

/** A change as a line: `intake/parallel/charge: In Progress → Error (attempt 2/3) (card declined)`. */
export function describeChange(change: RunChange): string {
  const attempt =
    change.kind === 'plugin' && (change.attempt ?? 0) > 1
      ? ` (attempt ${change.attempt}/${change.maxAttempts})`
      : '';
  const label = `${change.to}${attempt}`;
  const arrow = change.from === undefined ? label : `${change.from} → ${label}`;
  return `${change.path}: ${arrow}${change.message ? ` (${truncate(change.message, 120)})` : ''}`;
}

/** One line per state that changed between two snapshots of a run (for `watch` without a TTY). */
export function diffSnapshots(before: RunSnapshot | undefined, after: RunSnapshot): string[] {
  return snapshotChanges(before, after).map(describeChange);
}
