/**
 * The run's timeline: one bar per attempt of a plugin, on one time axis from the run's start to its
 * end (or now). Bars carry their outcome's symbol and colour; a row's label names the plugin. Wide
 * runs draw the first {@link MAX_ROWS} attempts by start time and say how many more there are.
 */
import type { RunTree } from './model.js';
import { lookOf } from './states.js';
import { formatDuration } from './util.js';

const MAX_ROWS = 150;

interface Bar {
  readonly key: string;
  readonly label: string;
  readonly attempt: number;
  readonly outcome: string;
  readonly start: number;
  readonly end: number | undefined;
  readonly message?: string | undefined;
}

export function Timeline({ run, now }: { run: RunTree; now: number }) {
  const bars: Bar[] = [];
  for (const activity of run.tree) {
    for (const stage of activity.stages) {
      for (const plugin of stage.plugins) {
        for (const a of plugin.attempts) {
          if (a.startedAt === undefined) continue;
          bars.push({
            key: `${activity.activity}/${stage.stage}/${plugin.plugin}#${a.attempt}`,
            label: `${activity.activity} · ${plugin.plugin}`,
            attempt: a.attempt,
            outcome: a.outcome,
            start: Date.parse(a.startedAt),
            end: a.endedAt === undefined ? undefined : Date.parse(a.endedAt),
            message: a.message,
          });
        }
      }
    }
  }
  if (bars.length === 0) return <p class="none">No plugin has been dispatched yet.</p>;
  bars.sort((a, b) => a.start - b.start);
  const t0 = Math.min(Date.parse(run.createdAt), ...bars.slice(0, MAX_ROWS).map((b) => b.start));
  const t1 = Math.max(run.endedAt ? Date.parse(run.endedAt) : now, ...bars.map((b) => b.end ?? now));
  const span = Math.max(t1 - t0, 1);
  const pct = (t: number) => `${(((t - t0) / span) * 100).toFixed(2)}%`;
  return (
    <div class="timeline">
      <div class="axis" aria-hidden="true">
        <span>0</span>
        <span>{formatDuration(span / 2)}</span>
        <span>{formatDuration(span)}</span>
      </div>
      <ol>
        {bars.slice(0, MAX_ROWS).map((b) => {
          const end = b.end ?? now;
          const took = formatDuration(end - b.start);
          return (
            <li key={b.key} class="row">
              <span class="row-label">
                {b.label}
                {b.attempt > 1 ? ` (attempt ${b.attempt})` : ''}
              </span>
              <span class="track">
                <span
                  class={`span ${lookOf(b.outcome).css}`}
                  style={{
                    left: pct(b.start),
                    width: `max(${(((end - b.start) / span) * 100).toFixed(2)}%, 3px)`,
                  }}
                  title={`${b.outcome}, ${took}${b.message ? ` — ${b.message}` : ''}`}
                >
                  <span class="sr-only">
                    {b.outcome} after {took}
                  </span>
                </span>
              </span>
              <span class="row-outcome">
                <span aria-hidden="true">{lookOf(b.outcome).symbol}</span> {b.outcome} · {took}
              </span>
            </li>
          );
        })}
      </ol>
      {bars.length > MAX_ROWS && (
        <p class="hint">
          {bars.length - MAX_ROWS} later attempts are not drawn; find a plugin in the graph to see its
          attempts.
        </p>
      )}
    </div>
  );
}
