/**
 * The runs of a workflow: filters (state, time range, uid prefix), counts per state, pages, and the
 * list kept live by polling while it is open. Filters live in the URL, so a filtered list can be
 * shared and survives a reload. Arrow keys move between rows; Enter opens a run.
 */
import { useState } from 'preact/hooks';
import type { Api } from './api.js';
import type { RunState, RunSummary, Workflow } from './model.js';
import { RUN_STATES } from './model.js';
import { StateBadge } from './states.js';
import { durationOf, formatTime, href, type Route, usePoll } from './util.js';

/** Runs counted per state at most (one page of the API): more shows as "100+". */
const COUNT_LIMIT = 100;
const PAGE = 25;

const toIso = (local: string | null): string | undefined =>
  local ? new Date(local).toISOString() : undefined;

export function RunsView({
  api,
  workflows,
  route,
  pollMs,
}: {
  api: Api;
  workflows: readonly Workflow[];
  route: Route;
  pollMs: number;
}) {
  const q = route.query;
  const workflow = q.get('workflow') ?? workflows[0]?.name ?? '';
  const state = q.get('state') ?? '';
  const since = q.get('since') ?? '';
  const until = q.get('until') ?? '';
  const prefix = q.get('prefix') ?? '';
  const cursors = (q.get('cursors') ?? '').split(',').filter((c) => c !== '');
  const cursor = cursors[cursors.length - 1];
  const go = (changes: Record<string, string | undefined>) => {
    const next: Record<string, string | undefined> = { workflow, state, since, until, prefix, ...changes };
    if (!('cursors' in changes)) next.cursors = undefined;
    location.hash = href(['runs'], next);
  };
  const range = { since: toIso(since), until: toIso(until) };
  const key = JSON.stringify({ workflow, state, since, until, cursor, prefix });
  const page = usePoll(
    () =>
      api.runs(workflow, {
        ...range,
        state: state || undefined,
        limit: prefix ? 100 : PAGE,
        cursor,
      }),
    key,
    () => pollMs,
  );
  const counts = usePoll(
    async () => {
      const pages = await Promise.all(
        RUN_STATES.map((s) => api.runs(workflow, { ...range, state: s, limit: COUNT_LIMIT })),
      );
      return RUN_STATES.map((s, i) => ({
        state: s,
        count: pages[i]?.runs.length ?? 0,
        more: pages[i]?.nextCursor !== undefined,
      }));
    },
    JSON.stringify({ workflow, since, until }),
    () => Math.max(pollMs * 2, 4000),
  );
  const runs = (page.data?.runs ?? []).filter((r) => r.uid.startsWith(prefix));
  const onRowKey = (event: KeyboardEvent) => {
    const rows = [...document.querySelectorAll<HTMLAnchorElement>('.runs tbody a.uid')];
    const at = rows.indexOf(document.activeElement as HTMLAnchorElement);
    const next = event.key === 'ArrowDown' ? at + 1 : event.key === 'ArrowUp' ? at - 1 : undefined;
    if (next === undefined) return;
    event.preventDefault();
    rows[Math.max(0, Math.min(rows.length - 1, next))]?.focus();
  };
  return (
    <section aria-labelledby="runs-title">
      <div class="title-row">
        <h1 id="runs-title">Runs</h1>
        <span class={`live ${page.error ? 'stale' : ''}`} aria-live="polite">
          {page.error ? `not updating: ${page.error}` : `live · every ${pollMs / 1000} s`}
        </span>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter runs">
        <label class="field">
          Workflow
          <select value={workflow} onChange={(e) => go({ workflow: e.currentTarget.value })}>
            {workflows.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          From
          <input type="datetime-local" value={since} onChange={(e) => go({ since: e.currentTarget.value })} />
        </label>
        <label class="field">
          Until
          <input type="datetime-local" value={until} onChange={(e) => go({ until: e.currentTarget.value })} />
        </label>
        <PrefixField value={prefix} onChange={(value) => go({ prefix: value || undefined })} />
      </form>
      <fieldset class="state-filter">
        <legend class="sr-only">Runs by state</legend>
        <button type="button" aria-pressed={state === ''} onClick={() => go({ state: undefined })}>
          All states
        </button>
        {(counts.data ?? RUN_STATES.map((s) => ({ state: s, count: undefined, more: false }))).map((c) => (
          <button
            type="button"
            key={c.state}
            aria-pressed={state === c.state}
            onClick={() => go({ state: c.state })}
            data-count-state={c.state}
          >
            <StateBadge state={c.state as RunState} />{' '}
            <span class="count">{c.count === undefined ? '…' : `${c.count}${c.more ? '+' : ''}`}</span>
          </button>
        ))}
      </fieldset>
      {page.error && !page.data && (
        <p class="problem" role="alert">
          {page.error}
        </p>
      )}
      <table class="runs" onKeyDown={onRowKey}>
        <caption class="sr-only">Runs of {workflow}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">State</th>
            <th scope="col">Activity</th>
            <th scope="col">Started</th>
            <th scope="col">Took</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <RunRow key={run.uid} run={run} />
          ))}
          {!page.loading && runs.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">
                No runs{state ? ` in ${state}` : ''}
                {prefix ? ` starting with “${prefix}”` : ''} in this range.
              </td>
            </tr>
          )}
          {page.loading && runs.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">
                Loading…
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => go({ cursors: cursors.slice(0, -1).join(',') || undefined })}
        >
          ← Newer
        </button>
        <span>Page {cursors.length + 1}</span>
        <button
          type="button"
          disabled={page.data?.nextCursor === undefined}
          onClick={() => go({ cursors: [...cursors, page.data?.nextCursor ?? ''].join(',') })}
        >
          Older →
        </button>
      </nav>
      {prefix && <p class="hint">The uid prefix filters the {100} newest runs of each page.</p>}
    </section>
  );
}

function PrefixField({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const [text, setText] = useState(value);
  return (
    <label class="field">
      Uid starts with
      <input
        type="search"
        value={text}
        placeholder="order-"
        data-hotkey="/"
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') onChange(text.trim());
        }}
        onBlur={() => text.trim() !== value && onChange(text.trim())}
      />
    </label>
  );
}

function RunRow({ run }: { run: RunSummary }) {
  return (
    <tr data-uid={run.uid}>
      <td>
        <a class="uid" href={href(['runs', run.workflow, run.uid])}>
          {run.uid}
        </a>
        {run.generation > 1 && <span class="gen"> gen {run.generation}</span>}
      </td>
      <td>
        <StateBadge state={run.state} />
      </td>
      <td>{run.position?.activity ?? '–'}</td>
      <td>{formatTime(run.createdAt)}</td>
      <td>{durationOf(run.createdAt, run.endedAt)}</td>
      <td class="message">{run.message ?? ''}</td>
    </tr>
  );
}
