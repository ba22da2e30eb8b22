/**
 * One home for what a stage inbox batch means: which messages belong together, in which order they
 * are applied, and what happens to a message when its work fails. The stage handler (SQS records) and
 * the test harnesses (in-memory deliveries) both call {@link handleInboxBatch}, so the order the tests
 * prove is the order that runs.
 */
import type { Command, InboxMessage, Registration, Report, StageName } from '../contracts/index.js';
import type { EngineDeps } from './deps.js';
import { isPermanentEngineError, MisroutedMessageError } from './errors.js';
import { type Delivery, startStage } from './progress.js';
import { type AttemptSignal, applySignals } from './reports.js';
import { retryPlugins } from './retries.js';
import { checkSender, type SenderRules } from './sender.js';

type StartStageCommand = Extract<Command, { kind: 'start-stage' }>;
type RetryCommand = Extract<Command, { kind: 'retry' }>;

/** One parsed message of the batch, with what the transport knows of its delivery. */
export interface InboxItem {
  /** The transport's id (the SQS message id): failures and quarantines name it. */
  readonly id: string;
  readonly message: InboxMessage;
  /** Delivered before (SQS `ApproximateReceiveCount` > 1): repairs are allowed. */
  readonly redelivered: boolean;
  /** Who sent it, as the transport says (SQS `SenderId`, `AROA…:<session>`). */
  readonly sender?: string;
}

export interface InboxOutcome {
  /** Messages to hand back for another delivery (transient failures). */
  readonly retry: readonly string[];
  /** Messages that can never be processed, with the reason (they go to the dead-letter queue). */
  readonly quarantine: readonly { readonly id: string; readonly reason: string }[];
  /** Of `quarantine`, the messages refused for their sender (`unauthenticated sender: …`). */
  readonly unauthenticated?: number;
  /** Reports accepted for a registration that records no principals (made before they existed). */
  readonly legacySenders?: number;
}

/** How the batch checks who sent each message (sender.ts). */
export interface InboxAuthentication {
  readonly rules: SenderRules;
  /**
   * The stage's registrations; `fresh: true` reads past any cache. Asked once per batch, and once
   * more, fresh, before a sender is refused.
   */
  registrations(fresh: boolean): Promise<readonly Registration[]>;
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
  /**
   * Checks every message's sender before anything is applied; refused ones are quarantined with
   * their reason. The stage handler always sets it.
   * @default - no check (engine tests that deliver messages without a transport)
   */
  readonly authenticate?: InboxAuthentication;
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
  let unauthenticated = 0;
  let legacySenders = 0;
  let accepted: InboxItem[] = mine;
  if (options.authenticate && mine.length > 0) {
    let checked: Awaited<ReturnType<typeof authenticate>>;
    try {
      checked = await authenticate(options.authenticate, mine);
    } catch (error) {
      // The registry could not be read: nothing is decided, everything is delivered again.
      log?.warn('messages handed back: the registry could not be read to check their senders', {
        count: mine.length,
        error,
      });
      return { retry: mine.map((i) => i.id), quarantine };
    }
    accepted = checked.accepted;
    legacySenders = checked.legacy;
    unauthenticated = checked.refused.length;
    quarantine.push(...checked.refused);
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
  const groups = groupByRun(accepted);
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
  return { retry, quarantine, ...(options.authenticate ? { unauthenticated, legacySenders } : {}) };
}

/** Splits the batch by sender verdict; a refusal is confirmed against a fresh read of the registry. */
async function authenticate(
  auth: InboxAuthentication,
  items: readonly InboxItem[],
): Promise<{ accepted: InboxItem[]; refused: { id: string; reason: string }[]; legacy: number }> {
  const judge = (registrations: readonly Registration[], item: InboxItem) =>
    checkSender(item.message, item.sender, registrations, auth.rules);
  let registrations = await auth.registrations(false);
  let verdicts = items.map((item) => judge(registrations, item));
  if (verdicts.some((v) => !v.accepted)) {
    registrations = await auth.registrations(true);
    verdicts = items.map((item) => judge(registrations, item));
  }
  const accepted: InboxItem[] = [];
  const refused: { id: string; reason: string }[] = [];
  let legacy = 0;
  items.forEach((item, index) => {
    const verdict = verdicts[index];
    if (verdict === undefined) return;
    if (verdict.accepted) {
      accepted.push(item);
      if (verdict.legacy) legacy += 1;
    } else {
      refused.push({ id: item.id, reason: verdict.reason });
    }
  });
  return { accepted, refused, legacy };
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
