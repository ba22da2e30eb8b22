/**
 * One run: its state and metadata, the actions the caller may take (each behind a confirmation that
 * says what will happen), the graph, the timeline, and the selected plugin's messages, result and
 * history. Polled while the run is in progress, so it follows the run without a reload.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';
import type { ConsoleConfig } from './config.js';
import { ConfirmDialog, type ConfirmRequest } from './confirm.js';
import { type PluginRef, RunGraph, refKey } from './graph.js';
import type { Identity, PluginView, RunTree } from './model.js';
import { FINAL_RUN_STATES } from './model.js';
import { StateBadge } from './states.js';
import { Timeline } from './timeline.js';
import { durationOf, formatTime, href, type Route, usePoll } from './util.js';

const SLOW_POLL_MS = 10_000;

export function RunView({
  api,
  config,
  identity,
  workflow,
  uid,
  route,
}: {
  api: Api;
  config: ConsoleConfig;
  identity: Identity;
  workflow: string;
  uid: string;
  route: Route;
}) {
  const pollMs = config.pollMs ?? 2000;
  // A finished run changes only when someone acts on it: it is asked less often.
  const run = usePoll(
    () => api.run(workflow, uid),
    `${workflow}/${uid}`,
    (data) => (data !== undefined && FINAL_RUN_STATES.includes(data.state) ? SLOW_POLL_MS : pollMs),
  );
  const data = run.data;
  const finished = data !== undefined && FINAL_RUN_STATES.includes(data.state);
  const [confirm, setConfirm] = useState<ConfirmRequest>();
  const [notice, setNotice] = useState<string>();
  const selected = route.query.get('plugin') ?? undefined;
  const select = (r: PluginRef | undefined) => {
    location.hash = href(['runs', workflow, uid], { plugin: r ? refKey(r) : undefined });
  };
  useEffect(() => {
    if (selected) document.getElementById('plugin-detail')?.focus();
  }, [selected]);
  if (data === undefined) {
    return run.error ? (
      <section>
        <h1>{uid}</h1>
        <p class="problem" role="alert">
          {run.error}
        </p>
        <a href={href(['runs'], { workflow })}>Back to the runs</a>
      </section>
    ) : (
      <p>Loading {uid}…</p>
    );
  }
  const act = (request: ConfirmRequest) => setConfirm(request);
  const done = (what: string) => () => {
    setNotice(what);
    run.refresh();
  };
  const found = selected ? findPlugin(data, selected) : undefined;
  const now = Date.now();
  return (
    <section aria-labelledby="run-title" class="run">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href(['runs'], { workflow })}>Runs of {workflow}</a> / <span>{uid}</span>
      </nav>
      <div class="title-row">
        <h1 id="run-title">{uid}</h1>
        <StateBadge state={data.state} />
        <span class={`live ${run.error ? 'stale' : ''}`} aria-live="polite">
          {run.error
            ? `not updating: ${run.error}`
            : finished
              ? 'finished'
              : `live · every ${pollMs / 1000} s`}
        </span>
      </div>
      {data.message && (
        <p class="run-message" data-testid="run-message">
          {data.message}
        </p>
      )}
      <dl class="facts">
        <dt>Workflow</dt>
        <dd>{data.workflow}</dd>
        <dt>Generation</dt>
        <dd>{data.generation}</dd>
        <dt>Started</dt>
        <dd>{formatTime(data.createdAt)}</dd>
        <dt>{data.endedAt ? 'Ended' : 'Updated'}</dt>
        <dd>{formatTime(data.endedAt ?? data.updatedAt)}</dd>
        <dt>Took</dt>
        <dd>{durationOf(data.createdAt, data.endedAt, now)}</dd>
        <dt>Activity</dt>
        <dd>{data.position?.activity ?? '–'}</dd>
      </dl>
      <Actions api={api} identity={identity} run={data} act={act} done={done} />
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <div class="run-body">
        <div class="run-main">
          <h2>Graph</h2>
          <RunGraph
            run={data}
            selected={selected}
            onSelect={(r) => select(selected === refKey(r) ? undefined : r)}
          />
          <h2>Timeline</h2>
          <Timeline run={data} now={now} />
          <h2>Metadata</h2>
          <pre class="json">{JSON.stringify(data.metadata, null, 2)}</pre>
          {config.logs && <LogsLink logs={config.logs} uid={uid} since={data.createdAt} />}
        </div>
        {found && (
          <PluginDetail
            found={found}
            run={data}
            identity={identity}
            onClose={() => select(undefined)}
            onSkip={() =>
              act({
                title: `Skip ${found.plugin.plugin}?`,
                consequence: `${found.activity} ${found.stage} ${found.plugin.plugin} is marked Do Not Run for generation ${data.generation}: it will not be dispatched, and a stage waiting for it stops waiting. Only a plugin that has not started can be skipped.`,
                confirmLabel: 'Skip the plugin',
                run: () =>
                  api
                    .skip(workflow, uid, found.activity, found.stage, found.plugin.plugin)
                    .then(done(`${found.plugin.plugin} skipped.`)),
              })
            }
          />
        )}
      </div>
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />}
    </section>
  );
}

function Actions({
  api,
  identity,
  run,
  act,
  done,
}: {
  api: Api;
  identity: Identity;
  run: RunTree;
  act: (r: ConfirmRequest) => void;
  done: (what: string) => () => void;
}) {
  if (!identity.permissions.operate) {
    return (
      <p class="read-only" data-testid="read-only">
        Read-only: {identity.name} may look but not act ({identity.source}). Cancel, retry, rerun and skip
        need the operator policy or the <code>plugboard/operate</code> scope.
      </p>
    );
  }
  const { workflow, uid, generation } = run;
  const inProgress = run.state === 'In Progress';
  const retryable = run.state === 'Error' || run.state === 'Cancelled';
  return (
    <div class="actions">
      {inProgress && (
        <button
          type="button"
          class="danger"
          data-action="cancel"
          onClick={() =>
            act({
              title: `Cancel ${uid}?`,
              consequence: `The run becomes Cancelled and run.cancelled is published. No further plugin is dispatched; plugins already running finish, and their reports change nothing. A cancelled run can be retried later.`,
              confirmLabel: 'Cancel the run',
              danger: true,
              reason: true,
              run: (reason) => api.cancel(workflow, uid, reason).then(done(`${uid} cancelled.`)),
            })
          }
        >
          Cancel run…
        </button>
      )}
      {retryable && (
        <button
          type="button"
          data-action="retry"
          onClick={() =>
            act({
              title: `Retry ${uid}?`,
              consequence: `Starts generation ${generation + 1} with the run's own metadata. Plugins that completed or were skipped are kept; the failed, timed-out and never-run plugins run again.`,
              confirmLabel: 'Retry the run',
              run: () =>
                api.retry(workflow, uid).then(done(`${uid} retried as generation ${generation + 1}.`)),
            })
          }
        >
          Retry…
        </button>
      )}
      {!inProgress && (
        <button
          type="button"
          data-action="rerun"
          onClick={() =>
            act({
              title: `Rerun ${uid}?`,
              consequence: `Starts generation ${generation + 1} of this ${run.state.toLowerCase()} run with the same metadata. Completed plugins are kept; the others run again.`,
              confirmLabel: 'Rerun',
              run: () => api.rerun(workflow, uid).then(done(`${uid} rerun as generation ${generation + 1}.`)),
            })
          }
        >
          Rerun…
        </button>
      )}
    </div>
  );
}

interface Found {
  readonly activity: string;
  readonly stage: string;
  readonly plugin: PluginView;
}

function findPlugin(run: RunTree, key: string): Found | undefined {
  for (const a of run.tree)
    for (const s of a.stages)
      for (const p of s.plugins)
        if (`${a.activity}/${s.stage}/${p.plugin}` === key)
          return { activity: a.activity, stage: s.stage, plugin: p };
  return undefined;
}

function PluginDetail({
  found,
  run,
  identity,
  onClose,
  onSkip,
}: {
  found: Found;
  run: RunTree;
  identity: Identity;
  onClose: () => void;
  onSkip: () => void;
}) {
  const p = found.plugin;
  const skippable = identity.permissions.operate && run.state === 'In Progress' && p.state === 'Not Started';
  return (
    <aside
      id="plugin-detail"
      class="detail"
      tabIndex={-1}
      aria-labelledby="detail-title"
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <div class="title-row">
        <h2 id="detail-title">{p.plugin}</h2>
        <button type="button" class="close" aria-label="Close the plugin's details" onClick={onClose}>
          ×
        </button>
      </div>
      <p>
        {found.activity} · {found.stage} · <StateBadge state={p.state} />
      </p>
      {p.message && <p class="plugin-message">{p.message}</p>}
      <dl class="facts">
        <dt>Attempt</dt>
        <dd>
          {p.attempt} of {p.maxAttempts}
        </dd>
        <dt>Mandatory</dt>
        <dd>{p.mandatory ? 'yes' : 'no (optional)'}</dd>
        <dt>Order</dt>
        <dd>{p.order}</dd>
        {p.deadline && (
          <>
            <dt>Deadline</dt>
            <dd>{formatTime(p.deadline)}</dd>
          </>
        )}
        {p.errorCode && (
          <>
            <dt>Error code</dt>
            <dd>
              <code>{p.errorCode}</code>
            </dd>
          </>
        )}
        {p.lateReports !== undefined && (
          <>
            <dt>Late reports</dt>
            <dd>{p.lateReports}</dd>
          </>
        )}
      </dl>
      {skippable && (
        <div class="actions">
          <button type="button" data-action="skip" onClick={onSkip}>
            Skip this plugin…
          </button>
        </div>
      )}
      <h3>Attempts</h3>
      {p.attempts.length === 0 ? (
        <p class="none">not dispatched yet</p>
      ) : (
        <table class="attempts">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Outcome</th>
              <th scope="col">Started</th>
              <th scope="col">Took</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {p.attempts.map((a) => (
              <tr key={a.attempt}>
                <td>{a.attempt}</td>
                <td>
                  <StateBadge state={a.outcome} />
                </td>
                <td>{formatTime(a.startedAt)}</td>
                <td>{durationOf(a.startedAt, a.endedAt)}</td>
                <td class="message">
                  {a.message ?? ''}
                  {a.errorCode ? ` (${a.errorCode})` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Result</h3>
      {p.result === undefined ? (
        <p class="none">no result</p>
      ) : (
        <pre class="json">{JSON.stringify(p.result, null, 2)}</pre>
      )}
      <h3>History</h3>
      <ol class="history">
        {Object.entries(p.stateTimes)
          .sort((a, b) => a[1].localeCompare(b[1]))
          .map(([state, at]) => (
            <li key={state}>
              {formatTime(at)} <StateBadge state={state} />
            </li>
          ))}
      </ol>
    </aside>
  );
}

/** CloudWatch's console escapes its hash route's parameters with `$` instead of `%`. */
const cwEscape = (s: string): string => encodeURIComponent(s).replace(/%/g, '$25');

function LogsLink({
  logs,
  uid,
  since,
}: {
  logs: NonNullable<ConsoleConfig['logs']>;
  uid: string;
  since: string;
}) {
  const base = `https://${logs.region}.console.aws.amazon.com/cloudwatch/home?region=${logs.region}#logsV2:log-groups/log-group/`;
  return (
    <>
      <h2>Logs</h2>
      <ul class="links">
        {logs.logGroups.map((group) => (
          <li key={group}>
            <a
              href={`${base}${cwEscape(group)}/log-events$3FfilterPattern$3D${cwEscape(`"${uid}"`)}$26start$3D${Date.parse(since) - 60_000}`}
              target="_blank"
              rel="noreferrer"
            >
              {group}
            </a>{' '}
            (lines naming {uid})
          </li>
        ))}
      </ul>
    </>
  );
}
