/**
 * Puts the lifecycle events on an EventBridge bus (the `events.eventBridge` option), where AWS users
 * build on them with rules, archives, replays and cross-account buses. The detail of each entry is
 * the same lifecycle event the SNS events topic carries; `source` is `plugboard.<system>` and
 * `detail-type` names the kind (docs/contracts.md, "Lifecycle events on EventBridge").
 *
 * Events published together (one handler settling several records at once) are coalesced into
 * PutEvents calls of at most 10 entries and 256 KB. PutEvents can fail some entries of a call and
 * still answer 200: only those entries are sent again, with exponential back-off, and a caller's
 * promise settles when its own entry is on the bus (or finally failed).
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import type { LifecycleEvent } from '../contracts/index.js';
import { EngineError } from '../engine/errors.js';
import type { EventPublisher } from '../engine/ports.js';

/** Most entries PutEvents takes in one call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** Most bytes PutEvents takes in one call (and so in one entry), as AWS counts them. */
export const MAX_BYTES_PER_CALL = 256 * 1024;

/** The `detail-type` of each kind of lifecycle event: what rules match on. Never renamed. */
export const DETAIL_TYPES: Readonly<Record<LifecycleEvent['type'], string>> = {
  'run.started': 'Plugboard Run Started',
  'run.rerun': 'Plugboard Run Rerun',
  'run.completed': 'Plugboard Run Completed',
  'run.failed': 'Plugboard Run Failed',
  'run.cancelled': 'Plugboard Run Cancelled',
  'plugin.failed': 'Plugboard Plugin Failed',
  'plugin.timed-out': 'Plugboard Plugin Timed Out',
  'plugin.retrying': 'Plugboard Plugin Retrying',
};

/**
 * Where an event falls within one generation of a run, for consumers that order events whose `at`
 * is equal: the run begins (0), its plugins fail, time out or retry (1), the run ends (2).
 */
export const LIFECYCLE_PHASES: Readonly<Record<LifecycleEvent['type'], number>> = {
  'run.started': 0,
  'run.rerun': 0,
  'plugin.failed': 1,
  'plugin.timed-out': 1,
  'plugin.retrying': 1,
  'run.completed': 2,
  'run.failed': 2,
  'run.cancelled': 2,
};

/** Entry error codes that the same entry can never get past: sent again, they fail again. */
const PERMANENT_ENTRY_ERRORS = new Set([
  'InvalidArgument',
  'MalformedDetail',
  'AccessDeniedException',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

/** A lifecycle event could not be put on the bus. Retryable unless the entry itself is refused. */
export class EventDeliveryError extends EngineError {
  constructor(
    readonly eventId: string,
    readonly errorCode: string,
    readonly attempts: number,
    readonly retryable: boolean,
    detail: string,
  ) {
    super(
      `Lifecycle event "${eventId}" was not put on the event bus after ${attempts} attempt(s): ${errorCode} (${detail}). ${
        retryable
          ? 'EventBridge was busy or failing; the message is handed back and the event is sent again (consumers drop duplicates by eventId).'
          : 'Check that the function may call events:PutEvents on the bus with this source (the core stack grants it) and that the bus exists.'
      }`,
    );
  }
}

/** A lifecycle event whose entry alone is larger than one PutEvents call may carry. */
export class EventTooLargeError extends EngineError {
  readonly retryable = false;
  constructor(
    readonly eventId: string,
    readonly bytes: number,
  ) {
    super(
      `Lifecycle event "${eventId}" is ${bytes} bytes as an EventBridge entry; PutEvents takes at most ${MAX_BYTES_PER_CALL}. Its message is too long: shorten the plugin's error message.`,
    );
  }
}

export interface EventBridgePublisherOptions {
  /** The bus: `default`, a name or an ARN (the core stack passes it in). */
  readonly eventBusName: string;
  /** `source` of every entry (`plugboard.<system>`); the grant allows only this one. */
  readonly source: string;
  readonly client: Pick<EventBridgeClient, 'send'>;
  /**
   * How many times an entry is sent in all before its caller is told it failed.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * Back-off before the first resend; doubles each time, with full jitter.
   * @default 50 ms
   */
  readonly baseDelayMs?: number;
  /** @default - a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

interface Pending {
  readonly event: LifecycleEvent;
  readonly entry: PutEventsRequestEntry;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class EventBridgePublisher implements EventPublisher {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private queued: Pending[] = [];
  private flushScheduled = false;

  constructor(private readonly options: EventBridgePublisherOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1)
      throw new RangeError(`maxAttempts is ${this.maxAttempts}; use a whole number of at least 1`);
  }

  /** Queues the event for the next PutEvents call; resolves once it is on the bus. */
  publish(event: LifecycleEvent): Promise<void> {
    const entry = toEntry(event, this.options);
    const bytes = entrySize(entry);
    if (bytes > MAX_BYTES_PER_CALL) return Promise.reject(new EventTooLargeError(event.eventId, bytes));
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ event, entry, bytes, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Events published in the same turn of the event loop (a batch of records settling
        // together) share calls.
        setImmediate(() => {
          this.flushScheduled = false;
          const batch = this.queued;
          this.queued = [];
          void this.deliver(batch);
        });
      }
    });
  }

  /** Sends the entries in calls that fit PutEvents' limits; resends failed entries with back-off. */
  private async deliver(items: readonly Pending[]): Promise<void> {
    let remaining = items;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      if (attempt > 1) await this.sleep(this.backOff(attempt - 1));
      const failed: { item: Pending; code: string; detail: string }[] = [];
      for (const call of splitIntoCalls(remaining)) failed.push(...(await this.send(call)));
      const again: Pending[] = [];
      for (const { item, code, detail } of failed) {
        const permanent = PERMANENT_ENTRY_ERRORS.has(code);
        if (permanent || attempt >= this.maxAttempts)
          item.reject(new EventDeliveryError(item.event.eventId, code, attempt, !permanent, detail));
        else again.push(item);
      }
      remaining = again;
    }
  }

  /** One PutEvents call; resolves the entries that made it and returns those that did not. */
  private async send(call: readonly Pending[]): Promise<{ item: Pending; code: string; detail: string }[]> {
    let results: readonly PutEventsResultEntry[];
    try {
      const answer = await this.options.client.send(
        new PutEventsCommand({ Entries: call.map((item) => item.entry) }),
      );
      results = answer.Entries ?? [];
    } catch (error) {
      // The whole call failed (after the SDK's own retries): every entry of it counts as failed.
      const code = (error as { name?: string }).name ?? 'Error';
      const detail = (error as Error).message ?? String(error);
      return call.map((item) => ({ item, code, detail }));
    }
    const failed: { item: Pending; code: string; detail: string }[] = [];
    call.forEach((item, index) => {
      const result = results[index];
      if (result?.EventId !== undefined && result.ErrorCode === undefined) item.resolve();
      else
        failed.push({
          item,
          code: result?.ErrorCode ?? 'MissingResult',
          detail: result?.ErrorMessage ?? 'PutEvents returned no result for this entry',
        });
    });
    return failed;
  }

  /** Full jitter: a random delay up to base × 2^(n-1). */
  private backOff(resend: number): number {
    return Math.round(this.random() * this.baseDelayMs * 2 ** (resend - 1));
  }
}

/** The PutEvents entry of a lifecycle event: its detail is the event itself. */
export function toEntry(
  event: LifecycleEvent,
  target: Pick<EventBridgePublisherOptions, 'eventBusName' | 'source'>,
): PutEventsRequestEntry {
  return {
    EventBusName: target.eventBusName,
    Source: target.source,
    DetailType: DETAIL_TYPES[event.type],
    Detail: JSON.stringify(event),
    Time: new Date(event.at),
  };
}

/**
 * The size of an entry as EventBridge counts it against the 256 KB limit: 14 bytes for `Time`, and
 * the UTF-8 bytes of `Source`, `DetailType`, `Detail` and every `Resources` entry.
 */
export function entrySize(entry: PutEventsRequestEntry): number {
  let bytes = entry.Time ? 14 : 0;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])])
    if (text !== undefined) bytes += Buffer.byteLength(text, 'utf8');
  return bytes;
}

/** Consecutive groups of at most 10 entries and 256 KB, in the order given. */
function splitIntoCalls(items: readonly Pending[]): Pending[][] {
  const calls: Pending[][] = [];
  let current: Pending[] = [];
  let bytes = 0;
  for (const item of items) {
    if (
      current.length > 0 &&
      (current.length === MAX_ENTRIES_PER_CALL || bytes + item.bytes > MAX_BYTES_PER_CALL)
    ) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.bytes;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}
