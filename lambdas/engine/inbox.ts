/**
 * One home for what a stage inbox batch means: which messages belong together, in which order they
 * are applied, and what happens to a message when its work fails. The stage handler (SQS records) and
 * the test harnesses (in-memory deliveries) both call {@link handleInboxBatch}, so the order the tests
 * prove is the order that runs.
 */
import type { Command, InboxMessage, Report, StageName } from '../contracts/index.js';
import type { EngineDeps } from './deps.js';
import { isPermanentEngineError, MisroutedMessageError } from './errors.js';
import { type Delivery, startStage } from './progress.js';
import { type AttemptSignal, applySignals } from './reports.js';
import { retryPlugins } from './retries.js';

type StartStageCommand = Extract<Command, { kind: 'start-stage' }>;
type RetryCommand = Extract<Command, { kind: 'retry' }>;

/** One parsed message of the batch, with what the transport knows of its delivery. */
export interface InboxItem {
  /** The transport's id (the SQS message id): failures and quarantines name it. */
  readonly id: string;
  readonly message: InboxMessage;
  /** Delivered before (SQS `ApproximateReceiveCount` > 1): repairs are allowed. */
  readonly redelivered: boolean;
}

export interface InboxOutcome {
  /** Messages to hand back for another delivery (transient failures). */
  readonly retry: readonly string[];
  /** Messages that can never be processed, with the reason (they go to the dead-letter queue). */
  readonly quarantine: readonly { readonly id: string; readonly reason: string }[];
}

/** The inbox's own stage: a message addressed to another is misrouted. */
export interface InboxOwner {
  readonly activity: string;
  readonly stage: StageName;
}

/**
 * Applies a batch of one stage inbox. Messages are grouped by run; within a run, in a safe order:
 * start-stage commands, then reports and timeouts (as one batch, so their count-down is one write),
 * then retries. A transient failure hands every message of its group part back; a permanent one
 * quarantines the message that causes it (a batch is split to find it).
 */
export interface InboxBatchOptions {
  readonly log?: { warn(message: string, detail: Record<string, unknown>): void };
  /**
   * Time left before the handler is stopped (Lambda's `getRemainingTimeInMillis`). A run group is not
   * started with less than {@link MIN_GROUP_TIME_MS} left: its messages are handed back at once
   * instead of being cut off mid-way and waiting out the visibility timeout.
   */
  readonly remainingMs?: () => number;
  /** Run groups handled at the same time. @default GROUP_CONCURRENCY */
  readonly concurrency?: number;
}

/** Runs of one batch are independent: their groups are handled this many at a time. */
export const GROUP_CONCURRENCY = 10;
/** The least time left in which a run group is started (a few store round trips under load). */
export const MIN_GROUP_TIME_MS = 5_000;

export async function handleInboxBatch(
  deps: EngineDeps,
  owner: InboxOwner,
  items: readonly InboxItem[],
  options: InboxBatchOptions = {},
): Promise<InboxOutcome> {
  const { log } = options;
  const retry: string[] = [];
  const quarantine: { id: string; reason: string }[] = [];
  const mine: InboxItem[] = [];
  for (const item of items) {
    const { activity, stage } = item.message;
    if (activity !== owner.activity || stage !== owner.stage) {
      const reason = new MisroutedMessageError(
        `addressed to ${activity}/${stage}, but this is the inbox of ${owner.activity}/${owner.stage}`,
      ).message;
      quarantine.push({ id: item.id, reason });
      continue;
    }
    mine.push(item);
  }

  const run = async (
    batch: readonly InboxItem[],
    work: (items: readonly InboxItem[]) => Promise<unknown>,
  ): Promise<void> => {
    try {
      await work(batch);
    } catch (error) {
      if (!isPermanentEngineError(error)) {
        log?.warn('messages handed back for another delivery', { count: batch.length, error });
        for (const item of batch) retry.push(item.id);
        return;
      }
      const [only] = batch;
      if (batch.length === 1 && only) {
        quarantine.push({ id: only.id, reason: (error as Error).message });
        return;
      }
      for (const item of batch) await run([item], work);
    }
  };

  const handleGroup = async (group: readonly InboxItem[]): Promise<void> => {
    if (options.remainingMs && options.remainingMs() < MIN_GROUP_TIME_MS) {
      for (const item of group) retry.push(item.id);
      return;
    }
    const starts = group.filter((i) => i.message.kind === 'start-stage');
    // Reports before timeouts: an on-time report that waited in the queue wins over a timeout.
    const signals = [
      ...group.filter((i) => i.message.kind === 'report'),
      ...group.filter((i) => i.message.kind === 'timeout'),
    ];
    const retries = group.filter((i) => i.message.kind === 'retry');
    for (const item of starts) {
      await run([item], (batch) => startStage(deps, item.message as StartStageCommand, deliveryOf(batch)));
    }
    const first = signals[0];
    if (first) {
      const key = { workflow: first.message.workflow, uid: first.message.uid, ...owner };
      await run(signals, (batch) => applySignals(deps, key, batch.map(toSignal), deliveryOf(batch)));
    }
    if (retries.length > 0) {
      await run(retries, (batch) =>
        retryPlugins(
          deps,
          batch.map((i) => i.message as RetryCommand),
          deliveryOf(batch),
        ),
      );
    }
  };
  // Different runs share nothing but the inbox: their groups go side by side.
  const groups = groupByRun(mine);
  const limit = Math.max(1, options.concurrency ?? GROUP_CONCURRENCY);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) {
      const group = groups[next];
      next += 1;
      if (group) await handleGroup(group);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, groups.length) }, worker));
  return { retry, quarantine };
}

function groupByRun(items: readonly InboxItem[]): InboxItem[][] {
  const groups = new Map<string, InboxItem[]>();
  for (const item of items) {
    const key = `${item.message.workflow}#${item.message.uid}`;
    const group = groups.get(key) ?? [];
    group.push(item);
    groups.set(key, group);
  }
  return [...groups.values()];
}

const deliveryOf = (items: readonly InboxItem[]): Delivery => ({
  redelivered: items.some((i) => i.redelivered),
});

function toSignal(item: InboxItem): AttemptSignal {
  const message = item.message;
  if (message.kind === 'timeout') return { kind: 'timeout', command: message };
  return { kind: 'report', report: message as Report };
}
