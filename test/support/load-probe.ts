/**
 * A probe for load tests on the local cloud: it watches what the engine does from outside, through
 * the AWS proxy's request hook and the runner's log hook, and never through the engine's own code, so
 * the same probe measures the current engine and any rewrite of it.
 *
 * What it records (each with the wall-clock time the proxy answered the request):
 * - every **dispatch**: an SNS `Publish` whose message is a `plugin-task` counts once per targeted
 *   plugin, keyed by (run, activity/stage, plugin, attempt), with the deadline the message carries;
 * - every **lifecycle event**: an SNS `Publish` whose message is a `lifecycle` event (the attempt is
 *   read from the event's stable id, `…:a<attempt>`);
 * - every **start-stage command** sent to an inbox (SQS `SendMessage`/`SendMessageBatch`): when a run
 *   enters a stage;
 * - every **crash** of a stage orchestrator: an invocation that ended with an error (the runner's
 *   `REPORT … <errorType>: …` line) or a batch the handler handed back to SQS ("messages handed back").
 *
 * Pure bookkeeping: the analysis functions below take the records and return numbers and lists.
 */
import type { ProxiedRequest } from '../../local/aws-proxy.js';
import type { RunnerLogEntry } from '../../local/lambda-runner.js';

export interface DispatchRecord {
  readonly uid: string;
  /** `activity/stage`. */
  readonly stage: string;
  readonly plugin: string;
  readonly attempt: number;
  /** When the proxy answered the Publish (ms since the epoch). */
  readonly at: number;
  /** The deadline the message gave this plugin (ms since the epoch), if any. */
  readonly deadline: number | undefined;
}

export interface EventRecord {
  readonly type: string;
  readonly uid: string;
  readonly stage: string | undefined;
  readonly plugin: string | undefined;
  readonly attempt: number | undefined;
  readonly at: number;
}

export interface CrashRecord {
  /** `activity/stage` of the orchestrator, or the function name when it is not a stage orchestrator. */
  readonly stage: string;
  readonly at: number;
  readonly detail: string;
}

export interface StageEntry {
  readonly uid: string;
  readonly stage: string;
  readonly at: number;
}

/** A message sent to a queue that the engine reads (an inbox, the start queue). */
export interface SentRecord {
  /** The queue's name (the last part of its URL). */
  readonly queue: string;
  readonly kind: string;
  readonly uid: string;
  /** The plugin a report or a timeout is about; the first plugin of a retry. */
  readonly plugin: string | undefined;
  readonly attempt: number | undefined;
  readonly delaySeconds: number;
  readonly at: number;
}

/** One invocation the runner reported (its REPORT line). */
export interface InvocationRecord {
  readonly functionName: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly at: number;
}

export type AttemptKey = string;
export const attemptKey = (uid: string, stage: string, plugin: string, attempt: number): AttemptKey =>
  `${uid}|${stage}|${plugin}|${attempt}`;

/** Records what the engine does, from the proxy's and the runner's hooks. */
export class LoadProbe {
  readonly dispatches: DispatchRecord[] = [];
  readonly events: EventRecord[] = [];
  readonly crashes: CrashRecord[] = [];
  readonly entries: StageEntry[] = [];
  readonly sent: SentRecord[] = [];
  readonly invocations: InvocationRecord[] = [];
  /** AWS requests per `service:operation` (the sweeper's overdue-plugin queries apart), with their time. */
  readonly requests = new Map<string, { count: number; ms: number }>();
  /** Runs that ended (`run.completed` / `run.failed`), with the time of the first such event. */
  readonly ended = new Map<string, number>();
  /** Function name → `activity/stage`, for stage orchestrators (set once the app is deployed). */
  private stageOfFunction = new Map<string, string>();
  /** Requests the probe could not read (kept so a test can say the probe saw everything). */
  unreadable = 0;

  /** Tells the probe which functions are stage orchestrators (from their environment). */
  setStageFunctions(functions: readonly { name: string; environment?: Readonly<Record<string, string>> }[]) {
    for (const fn of functions) {
      const activity = fn.environment?.PLUGBOARD_ACTIVITY;
      const stage = fn.environment?.PLUGBOARD_STAGE;
      if (activity && stage) this.stageOfFunction.set(fn.name, `${activity}/${stage}`);
    }
  }

  readonly onRequest = (request: ProxiedRequest): void => {
    if (request.status < 200 || request.status >= 300) return;
    const at = Date.now();
    const category =
      request.operation === 'Query' && request.requestBody.includes('#deadline < :now')
        ? 'dynamodb:Query (overdue plugins)'
        : `${request.service}:${request.operation}`;
    const counter = this.requests.get(category) ?? { count: 0, ms: 0 };
    counter.count += 1;
    counter.ms += request.durationMs;
    this.requests.set(category, counter);
    try {
      if (request.service === 'sns' && request.operation === 'Publish') {
        const text = new URLSearchParams(request.requestBody).get('Message');
        if (text !== null) this.onPublished(JSON.parse(text) as Record<string, unknown>, at);
      } else if (
        request.service === 'sqs' &&
        (request.operation === 'SendMessage' || request.operation === 'SendMessageBatch')
      ) {
        type Entry = { MessageBody?: string; DelaySeconds?: number };
        const body = JSON.parse(request.requestBody) as Entry & { QueueUrl?: string; Entries?: Entry[] };
        const queue = (body.QueueUrl ?? '').slice((body.QueueUrl ?? '').lastIndexOf('/') + 1);
        for (const entry of body.Entries ?? [body]) {
          if (entry.MessageBody === undefined) continue;
          const message = JSON.parse(entry.MessageBody) as Record<string, unknown>;
          const plugins = Array.isArray(message.plugins) ? (message.plugins as unknown[]) : [];
          const plugin = typeof message.plugin === 'string' ? message.plugin : plugins[0];
          this.sent.push({
            queue,
            kind:
              typeof message.kind === 'string'
                ? message.kind
                : typeof message.status === 'string'
                  ? `report ${message.status}`
                  : 'start',
            uid: String(message.uid),
            plugin: typeof plugin === 'string' ? plugin : undefined,
            attempt: typeof message.attempt === 'number' ? message.attempt : undefined,
            delaySeconds: entry.DelaySeconds ?? 0,
            at,
          });
          if (message.kind === 'start-stage') {
            this.entries.push({
              uid: String(message.uid),
              stage: `${message.activity}/${message.stage}`,
              at,
            });
          }
        }
      }
    } catch {
      this.unreadable += 1;
    }
  };

  readonly onLog = (entry: RunnerLogEntry): void => {
    const at = Date.now();
    if (entry.kind === 'runner') {
      // `REPORT <function> RequestId: <id> Duration: <n> ms[ (cold start)] ok|<errorType>: <message>`
      const match = /^REPORT (\S+) RequestId: \S+ Duration: (\d+) ms(?: \(cold start\))? (.*)$/s.exec(
        entry.message,
      );
      if (!match) return;
      const functionName = match[1] ?? '';
      this.invocations.push({ functionName, durationMs: Number(match[2]), ok: match[3] === 'ok', at });
      if (match[3] !== 'ok') {
        const stage = this.stageOfFunction.get(functionName);
        if (stage) this.crashes.push({ stage, at, detail: (match[3] ?? '').slice(0, 200) });
      }
      return;
    }
    if (entry.line.includes('messages handed back for another delivery')) {
      const stage = this.stageOfFunction.get(entry.functionName);
      if (stage) this.crashes.push({ stage, at, detail: entry.line.slice(0, 300) });
    }
  };

  private onPublished(message: Record<string, unknown>, at: number): void {
    if (message.kind === 'plugin-task') {
      const deadlines = (message.deadlines ?? {}) as Record<string, string>;
      if (Number(message.attempt) === 1) {
        // The engine enters a stage inline (no command): its first dispatch is where the run entered it.
        this.entries.push({ uid: String(message.uid), stage: `${message.activity}/${message.stage}`, at });
      }
      for (const plugin of message.plugins as string[]) {
        const deadline = deadlines[plugin];
        this.dispatches.push({
          uid: String(message.uid),
          stage: `${message.activity}/${message.stage}`,
          plugin,
          attempt: Number(message.attempt),
          at,
          deadline: deadline ? Date.parse(deadline) : undefined,
        });
      }
    } else if (message.kind === 'lifecycle') {
      const eventId = String(message.eventId ?? '');
      const attempt = /:a(\d+)$/.exec(eventId)?.[1];
      const type = String(message.type);
      const uid = String(message.uid);
      this.events.push({
        type,
        uid,
        stage: message.activity ? `${message.activity}/${message.stage}` : undefined,
        plugin: typeof message.plugin === 'string' ? message.plugin : undefined,
        attempt: attempt === undefined ? undefined : Number(attempt),
        at,
      });
      if ((type === 'run.completed' || type === 'run.failed') && !this.ended.has(uid))
        this.ended.set(uid, at);
    }
  }

  /**
   * Runs that entered `stage` and are still in flight at `at`: not ended, or ended less than
   * `graceMs` before (their last reports may still be on the way).
   */
  runsInFlightAt(stage: string, at: number, graceMs: number): number {
    const seen = new Set<string>();
    for (const entry of this.entries) {
      if (entry.stage !== stage || entry.at > at || seen.has(entry.uid)) continue;
      const ended = this.ended.get(entry.uid);
      if (ended === undefined || ended > at - graceMs) seen.add(entry.uid);
    }
    return seen.size;
  }
}

/** Dispatches per attempt, and the attempts dispatched more than once. */
export interface DuplicateDispatch {
  readonly key: AttemptKey;
  readonly count: number;
  /** Whether a crash of the stage's orchestrator between the first and the last dispatch explains it. */
  readonly afterCrash: boolean;
}

export function duplicateDispatches(probe: Pick<LoadProbe, 'dispatches' | 'crashes'>): DuplicateDispatch[] {
  const byKey = new Map<AttemptKey, DispatchRecord[]>();
  for (const d of probe.dispatches) {
    const key = attemptKey(d.uid, d.stage, d.plugin, d.attempt);
    const list = byKey.get(key) ?? [];
    list.push(d);
    byKey.set(key, list);
  }
  const duplicates: DuplicateDispatch[] = [];
  for (const [key, list] of byKey) {
    if (list.length < 2) continue;
    const first = list[0] as DispatchRecord;
    const last = list[list.length - 1] as DispatchRecord;
    const afterCrash = probe.crashes.some(
      (c) => c.stage === first.stage && c.at >= first.at - 1000 && c.at <= last.at,
    );
    duplicates.push({ key, count: list.length, afterCrash });
  }
  return duplicates;
}

/** The final state of one plugin execution, as the status table holds it at the end. */
export interface FinalPlugin {
  readonly uid: string;
  readonly stage: string;
  readonly plugin: string;
  readonly state: string;
  readonly attempt: number;
  readonly stateTimes: Readonly<Record<string, string | undefined>>;
}

export interface Settlement {
  readonly key: AttemptKey;
  readonly deadline: number;
  /** When the attempt was settled (ms since the epoch), or undefined when it never was. */
  readonly settledAt: number | undefined;
  /** settledAt (or `now` when unsettled) minus the deadline, in ms. */
  readonly lateByMs: number;
}

const FINAL = new Set(['Complete', 'Error', 'Timed Out', 'Cancelled']);

/**
 * When each dispatched attempt was settled: by the status table's final record for the attempt the
 * plugin ended at, or by the lifecycle event that closed an earlier attempt (`plugin.retrying`,
 * `plugin.timed-out`, `plugin.failed` with that attempt), or at the latest by the first dispatch of
 * the next attempt. Attempts with no deadline (none was given) are left out.
 */
export function settlements(
  probe: Pick<LoadProbe, 'dispatches' | 'events'>,
  finals: readonly FinalPlugin[],
  now: number,
): Settlement[] {
  const firstDispatch = new Map<AttemptKey, DispatchRecord>();
  for (const d of probe.dispatches) {
    const key = attemptKey(d.uid, d.stage, d.plugin, d.attempt);
    if (!firstDispatch.has(key)) firstDispatch.set(key, d);
  }
  const closedAt = new Map<AttemptKey, number>();
  const close = (key: AttemptKey, at: number) => {
    const before = closedAt.get(key);
    if (before === undefined || at < before) closedAt.set(key, at);
  };
  for (const e of probe.events) {
    if (e.plugin === undefined || e.stage === undefined || e.attempt === undefined) continue;
    if (e.type === 'plugin.retrying' || e.type === 'plugin.timed-out' || e.type === 'plugin.failed') {
      close(attemptKey(e.uid, e.stage, e.plugin, e.attempt), e.at);
    }
  }
  for (const d of firstDispatch.values()) {
    if (d.attempt > 1) close(attemptKey(d.uid, d.stage, d.plugin, d.attempt - 1), d.at);
  }
  for (const f of finals) {
    const time = f.stateTimes[f.state];
    if (FINAL.has(f.state) && time) close(attemptKey(f.uid, f.stage, f.plugin, f.attempt), Date.parse(time));
  }
  const result: Settlement[] = [];
  for (const [key, d] of firstDispatch) {
    if (d.deadline === undefined) continue;
    const settledAt = closedAt.get(key);
    result.push({ key, deadline: d.deadline, settledAt, lateByMs: (settledAt ?? now) - d.deadline });
  }
  return result;
}

/** One reading of one inbox. */
export interface InboxSample {
  readonly stage: string;
  readonly at: number;
  /** Visible + in flight (not visible) + delayed: every message the queue holds. */
  readonly depth: number;
  readonly visible: number;
  readonly notVisible: number;
  readonly delayed: number;
}

/**
 * Reads the depth of every inbox (`GetQueueAttributes`) every `intervalMs` until stopped: one read
 * of each inbox after the other, then a pause, so a slow emulator makes it sample less, never pile up.
 */
export class InboxSampler {
  readonly samples: InboxSample[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** Reads a queue's attributes (also usable by the caller for other queues). */
    readonly read: (queueUrl: string) => Promise<Readonly<Record<string, string>>>,
    private readonly inboxes: ReadonlyMap<string, string>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops after a last complete reading of every inbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Reads every inbox once more, now. */
  async sampleOnce(): Promise<InboxSample[]> {
    const taken: InboxSample[] = [];
    for (const [stage, url] of this.inboxes) {
      const attributes = await this.read(url);
      const visible = Number(attributes.ApproximateNumberOfMessages ?? 0);
      const notVisible = Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      const delayed = Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0);
      const sample = {
        stage,
        at: Date.now(),
        depth: visible + notVisible + delayed,
        visible,
        notVisible,
        delayed,
      };
      this.samples.push(sample);
      taken.push(sample);
    }
    return taken;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.sampleOnce();
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
    await this.sampleOnce();
  }
}
