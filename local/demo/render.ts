/**
 * Text views of runs for `npm start`: a live progress block, the final status tree and a timeline.
 */
import {
  attemptsOf,
  currentStageOf,
  type PluginRecord,
  type RunSnapshot,
  type StageRecord,
} from '../../lambdas/engine/records.js';
import { STAGE_NAMES } from '../../plugin-kit/src/index.js';

const color = (code: number) => (text: string, enabled: boolean) =>
  enabled ? `\u001b[${code}m${text}\u001b[0m` : text;
const green = color(32);
const red = color(31);
const yellow = color(33);
const dim = color(2);

/** Colours a state name: green done, red failed, yellow running or timed out, dim skipped. */
export function paintState(state: string, enabled: boolean): string {
  if (state === 'Complete' || state === 'Mandatory Completed') return green(state, enabled);
  if (state === 'Error' || state === 'Cancelled') return red(state, enabled);
  if (state === 'In Progress' || state === 'Timed Out' || state === 'Optional Task Error')
    return yellow(state, enabled);
  return dim(state, enabled);
}

const FINAL = new Set(['Complete', 'Error', 'Timed Out', 'Do Not Run', 'Cancelled']);

/** Milliseconds a plugin ran (its current attempt's In Progress to its final state, or to `now`). */
export function pluginDurationMs(plugin: PluginRecord, now: Date): number | undefined {
  const started = plugin.stateTimes['In Progress'];
  if (started === undefined) return undefined;
  const ended = FINAL.has(plugin.state) ? plugin.stateTimes[plugin.state] : undefined;
  return (ended ? Date.parse(ended) : now.getTime()) - Date.parse(started);
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '' : `${(ms / 1000).toFixed(2)} s`);

function orderedStages(snapshot: RunSnapshot): StageRecord[] {
  const activityIndex = (a: string) => snapshot.run.activities.indexOf(a);
  return [...snapshot.stages].sort(
    (a, b) =>
      activityIndex(a.activity) - activityIndex(b.activity) ||
      STAGE_NAMES.indexOf(a.stage) - STAGE_NAMES.indexOf(b.stage),
  );
}

function pluginsOf(snapshot: RunSnapshot, stage: StageRecord): PluginRecord[] {
  return snapshot.plugins
    .filter((p) => p.activity === stage.activity && p.stage === stage.stage)
    .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin));
}

function pluginLine(plugin: PluginRecord, now: Date, colors: boolean): string {
  const parts = [
    `${plugin.plugin}${plugin.mandatory ? '' : dim(' (optional)', colors)}`,
    paintState(plugin.state, colors),
  ];
  if (plugin.attempt > 1) parts.push(`attempt ${plugin.attempt}/${plugin.maxAttempts}`);
  const duration = seconds(pluginDurationMs(plugin, now));
  if (duration) parts.push(dim(duration, colors));
  return `${parts.join(' ')}${plugin.message ? `: ${plugin.message}` : ''}`;
}

/** A few lines per run: its state and where it is (activity → stage → plugins). */
export function progressLines(
  uid: string,
  snapshot: RunSnapshot | undefined,
  now: Date,
  colors: boolean,
): string[] {
  if (snapshot === undefined) return [`${uid}: starting…`];
  const { run } = snapshot;
  const elapsed = (Date.parse(run.endedAt ?? now.toISOString()) - Date.parse(run.createdAt)) / 1000;
  const header = `${uid}: ${paintState(run.state, colors)} ${dim(`${elapsed.toFixed(1)} s`, colors)}${run.message ? ` ${run.message}` : ''}`;
  const stage = currentStageOf(run, snapshot.stages);
  const position = stage ?? run.position;
  if (position === undefined) return [header];
  const plugins = stage ? pluginsOf(snapshot, stage) : [];
  const where = `  ${position.activity} → ${position.stage}${stage ? ` (${paintState(stage.state, colors)})` : ''}`;
  return [
    header,
    plugins.length === 0
      ? `${where}: no plugins`
      : `${where}: ${plugins.map((p) => pluginLine(p, now, colors)).join(', ')}`,
  ];
}

/** The run as a tree: run → activity → stage → plugin, with states, attempts, durations and messages. */
export function statusTree(snapshot: RunSnapshot, colors: boolean): string[] {
  const { run } = snapshot;
  const now = new Date(run.endedAt ?? Date.now());
  const lines = [
    `${run.workflow}/${run.uid} (generation ${run.generation}): ${paintState(run.state, colors)}${run.message ? ` — ${run.message}` : ''}`,
  ];
  const stages = orderedStages(snapshot);
  run.activities.forEach((activity, a) => {
    const lastActivity = a === run.activities.length - 1;
    lines.push(`${lastActivity ? '└─' : '├─'} ${activity}`);
    const prefix = lastActivity ? '   ' : '│  ';
    const ofActivity = stages.filter((s) => s.activity === activity);
    if (ofActivity.length === 0) lines.push(`${prefix}└─ ${dim('not reached', colors)}`);
    ofActivity.forEach((stage, s) => {
      const lastStage = s === ofActivity.length - 1;
      const plugins = pluginsOf(snapshot, stage);
      lines.push(
        `${prefix}${lastStage ? '└─' : '├─'} ${stage.stage} ${paintState(stage.state, colors)}${plugins.length === 0 ? dim(' (no plugins)', colors) : ''}`,
      );
      plugins.forEach((plugin, p) => {
        lines.push(
          `${prefix}${lastStage ? '   ' : '│  '}${p === plugins.length - 1 ? '└─' : '├─'} ${pluginLine(plugin, now, colors)}`,
        );
      });
    });
  });
  return lines;
}

/** One bar per plugin attempt on a shared time axis starting at the earliest run's creation. */
export function timeline(snapshots: readonly RunSnapshot[], colors: boolean, width = 40): string[] {
  const rows: { label: string; start: number; end: number; state: string }[] = [];
  for (const { run, plugins } of snapshots) {
    for (const plugin of plugins) {
      const attempts = attemptsOf(plugin);
      for (const attempt of attempts) {
        const started = attempt.startedAt;
        if (started === undefined) continue;
        const ended = attempt.endedAt ?? run.endedAt ?? started;
        const label = `${run.uid} ${plugin.activity}/${plugin.stage}/${plugin.plugin}`;
        rows.push({
          label: attempts.length > 1 ? `${label} #${attempt.attempt}` : label,
          start: Date.parse(started),
          end: Math.max(Date.parse(ended), Date.parse(started)),
          state: attempt.outcome,
        });
      }
    }
  }
  if (rows.length === 0) return [];
  const t0 = Math.min(...snapshots.map((s) => Date.parse(s.run.createdAt)));
  const t1 = Math.max(
    ...rows.map((r) => r.end),
    ...snapshots.map((s) => Date.parse(s.run.endedAt ?? s.run.updatedAt)),
  );
  const span = Math.max(1, t1 - t0);
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  rows.sort((a, b) => a.start - b.start);
  const lines = [
    `${' '.repeat(labelWidth)}  0 s${' '.repeat(Math.max(1, width - 8))}${(span / 1000).toFixed(1)} s`,
  ];
  for (const row of rows) {
    const from = Math.floor(((row.start - t0) / span) * width);
    const to = Math.max(from + 1, Math.ceil(((row.end - t0) / span) * width));
    const bar = `${' '.repeat(from)}${'█'.repeat(to - from)}${' '.repeat(Math.max(0, width - to))}`;
    lines.push(
      `${row.label.padEnd(labelWidth)}  ${bar} ${paintState(row.state, colors)} ${dim(seconds(row.end - row.start), colors)}`,
    );
  }
  return lines;
}
