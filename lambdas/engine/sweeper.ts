/**
 * The deadline sweeper (ADR 0010): finds the runs that are due through the sparse, sharded `due` index,
 * oldest first, and never walks the active runs. A run's `dueAt` is never after the deadline of an
 * attempt it has in flight, so every overdue attempt belongs to a due run. Each tick reads the shards
 * of every workflow in parallel, at most `maxRunsPerShard` runs each; per due run it reads the run
 * (one query), sends a timeout command for every attempt whose deadline falls before the next tick
 * (delayed to its deadline), and moves `dueAt` to the next time the run needs a look. It reports how
 * far behind it is: the age of the oldest due run it left for the next tick.
 */
import { DUE_REVISIT_SECONDS, isFinalRunState, STATES } from '../contracts/index.js';
import type { EngineDeps } from './deps.js';
import type { DueRun } from './ports.js';

export interface SweepResult {
  readonly runsChecked: number;
  readonly timeoutsSent: number;
  /** Age in seconds of the oldest run that was due at the start of the tick (0 when none). */
  readonly oldestDueSeconds: number;
  /**
   * Age in seconds of the oldest run already due that this tick left for the next one (0 when it
   * reached every due run): above 0, some deadline is enforced later than planned. Alarmed on.
   */
  readonly lagSeconds: number;
  /** Due runs left for the next tick by the per-shard bound (at least; 0 when none). */
  readonly runsLeft: number;
}

export interface SweepOptions {
  /** Due runs handled per shard per tick at most. @default 500 */
  readonly maxRunsPerShard?: number;
  /** Shards read at once. @default 16 */
  readonly shardConcurrency?: number;
  /** Runs of one shard handled at once. @default 8 */
  readonly runConcurrency?: number;
  /**
   * How far past now the tick looks: attempts due before the next tick get a timeout delayed to their
   * deadline. The sweeper function passes its schedule's interval (60 s). @default 0
   */
  readonly lookaheadSeconds?: number;
}

/**
 * A timeout already sent for an attempt is sent again only after this long: the first one may be
 * waiting in a backlogged inbox, or its handling may have failed and wait for its visibility timeout.
 * Short enough that an attempt is still settled well within its deadline + 60 s.
 */
export const TIMEOUT_RESEND_SECONDS = 30;

/** SQS delays a message by at most 15 minutes. */
const MAX_DELAY_SECONDS = 900;

export async function sweepDeadlines(
  deps: Pick<EngineDeps, 'store' | 'commands' | 'clock' | 'config'>,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const at = deps.clock.now();
  const nowMs = at.getTime();
  const maxRuns = options.maxRunsPerShard ?? 500;
  const lookahead = (options.lookaheadSeconds ?? 0) * 1000;
  const horizon = new Date(nowMs + lookahead).toISOString();
  const shards: { workflow: string; shard: number }[] = [];
  for (const workflow of Object.keys(deps.config.workflows)) {
    // Shard `indexShards` is the legacy partition (runs indexed before ADR 0010).
    for (let shard = 0; shard <= deps.store.indexShards; shard += 1) shards.push({ workflow, shard });
  }
  let runsChecked = 0;
  let timeoutsSent = 0;
  let oldestDue = nowMs;
  let oldestLeft = nowMs;
  let runsLeft = 0;
  await forEachLimited(shards, options.shardConcurrency ?? 16, async ({ workflow, shard }) => {
    const page = await deps.store.listDueRuns(workflow, shard, { before: horizon, limit: maxRuns });
    const first = page.runs[0];
    if (first) oldestDue = Math.min(oldestDue, Date.parse(first.dueAt) || nowMs);
    if (page.firstLeft !== undefined) {
      runsLeft += 1;
      oldestLeft = Math.min(oldestLeft, Date.parse(page.firstLeft) || nowMs);
    }
    await forEachLimited(page.runs, options.runConcurrency ?? 8, async (due) => {
      runsChecked += 1;
      const sent = await sweepRun(deps, due, nowMs, lookahead);
      timeoutsSent += sent;
    });
  });
  return {
    runsChecked,
    timeoutsSent,
    oldestDueSeconds: Math.max(0, Math.round((nowMs - oldestDue) / 1000)),
    lagSeconds: Math.max(0, Math.round((nowMs - oldestLeft) / 1000)),
    runsLeft,
  };
}

/** One due run: its timeouts, then its next due time. Returns the timeouts sent. */
async function sweepRun(
  deps: Pick<EngineDeps, 'store' | 'commands' | 'clock'>,
  due: DueRun,
  nowMs: number,
  lookahead: number,
): Promise<number> {
  const now = new Date(nowMs).toISOString();
  const resendAfter = new Date(nowMs - TIMEOUT_RESEND_SECONDS * 1000).toISOString();
  const snapshot = await deps.store.readRun(due);
  if (!snapshot || isFinalRunState(snapshot.run.state)) {
    // Finished (its end took it out of the index) or gone: nothing to look at again.
    await deps.store.rescheduleRun(due, null);
    return 0;
  }
  const { run } = snapshot;
  // The next look: a revisit interval from now at the latest (an attempt dispatched from now on with a
  // deadline sooner than that moves it earlier itself, ADR 0010), sooner for attempts in flight.
  let next = nowMs + DUE_REVISIT_SECONDS * 1000;
  let sent = 0;
  for (const plugin of snapshot.plugins) {
    // Left In Progress by an earlier generation (the run was rerun since): not this run's concern.
    if (plugin.state !== STATES.inProgress || plugin.generation !== run.generation) continue;
    if (plugin.deadline === undefined) continue;
    const deadline = Date.parse(plugin.deadline);
    if (deadline >= nowMs + lookahead) {
      next = Math.min(next, deadline);
      continue;
    }
    // Due before the next tick: one timeout per attempt in flight (another after
    // TIMEOUT_RESEND_SECONDS), delivered at its deadline; look again once it should have been handled.
    next = Math.min(next, Math.max(deadline, nowMs) + TIMEOUT_RESEND_SECONDS * 1000);
    const claimed = await deps.store.claimTimeout(
      plugin,
      { generation: plugin.generation, attempt: plugin.attempt },
      now,
      resendAfter,
    );
    if (!claimed) continue;
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((deadline - nowMs) / 1000)));
    await deps.commands.send(
      {
        schemaVersion: 1,
        kind: 'timeout',
        workflow: plugin.workflow,
        uid: plugin.uid,
        generation: plugin.generation,
        activity: plugin.activity,
        stage: plugin.stage,
        plugin: plugin.plugin,
        attempt: plugin.attempt,
      },
      delaySeconds > 0 ? { delaySeconds } : {},
    );
    sent += 1;
  }
  // Conditional on the due time it was found with: an earlier one noted meanwhile is kept.
  await deps.store.rescheduleRun(due, new Date(next).toISOString());
  return sent;
}

/** Runs `work` over `items` with at most `limit` calls in flight. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const queue = items.values();
  const worker = async (): Promise<void> => {
    for (const item of queue) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
