/**
 * The engine under test, wired to in-memory ports: a memory status store and registry, a recording
 * dispatcher (the SNS topics), a recording command bus (the stage inboxes, with delays), a recording
 * event publisher, a manual clock, a reference workflow and the engine's SNS filter-policy evaluator.
 *
 * `drive()` plays the rest of the system: it delivers queued commands and plugin reports to the
 * engine the way the stage handler does, lets scripted fake plugins answer what the dispatcher
 * published (through the same `plugins` targeting and filter policies SNS would apply), runs the
 * deadline sweeper when nothing else is left, and can deliver everything twice, shuffle the order,
 * and crash after any write or side effect (the message is then delivered again, as SQS would).
 */
import {
  type Command,
  commandSchema,
  type LifecycleEvent,
  lifecycleEventSchema,
  type PluginMessage,
  pluginMessageSchema,
  type Registration,
  type Report,
  type ReportInput,
  registrationSchema,
  reportSchema,
  type StageName,
  type StartRequest,
  startRequestSchema,
} from '../../lambdas/contracts/index.js';
import { buildMessageAttributes, type MessageAttribute } from '../../lambdas/engine/attributes.js';
import type { ActivitySettings, EngineConfig } from '../../lambdas/engine/config.js';
import type { EngineDeps, EngineObserver, FilterMatcher } from '../../lambdas/engine/deps.js';
import { EngineError } from '../../lambdas/engine/errors.js';
import { matchesFilterPolicy, validateFilterPolicy } from '../../lambdas/engine/filter-policy.js';
import { handleInboxBatch, type InboxOutcome } from '../../lambdas/engine/inbox.js';
import type {
  Clock,
  CommandBus,
  Dispatcher,
  EventPublisher,
  RunPatch,
  StagePatch,
  Transition,
} from '../../lambdas/engine/ports.js';
import type { PluginKey, RunKey, RunRecord, StageKey, StageRecord } from '../../lambdas/engine/records.js';
import { applySignals, type SignalResult } from '../../lambdas/engine/reports.js';
import { type StartOutcome, startRun } from '../../lambdas/engine/start.js';
import { sweepDeadlines } from '../../lambdas/engine/sweeper.js';
import { CallJournal, copy, InjectedFault, MemoryRegistry, MemoryStatusStore } from './memory-store.js';

// ---------------------------------------------------------------------------------------------------
// The reference deployment
// ---------------------------------------------------------------------------------------------------

export const T0 = '2026-11-23T10:00:00.000Z';
export const WORKFLOW = 'reference';
/** The reference run: 3 activities × (1 pre + 5 parallel + 1 post). */
export const ACTIVITIES = ['intake', 'assess', 'settle'] as const;
export const SETTINGS: ActivitySettings = { deadlineSeconds: 60, maxAttempts: 3, retryBaseSeconds: 2 };

export const inboxUrl = (activity: string, stage: StageName): string =>
  `https://sqs.test.local/123456789012/plugboard-test-${activity}-${stage}-inbox`;
export const topicArn = (activity: string, stage: StageName): string =>
  `arn:aws:sns:us-east-1:123456789012:plugboard-test-${activity}-${stage}-topic`;

// ---------------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------------

export class ManualClock implements Clock {
  private current: number;

  constructor(start: string = T0) {
    this.current = Date.parse(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  advanceSeconds(seconds: number): void {
    this.current += seconds * 1000;
  }

  /** Moves the clock to `time` (never backwards). */
  setAtLeast(time: number | string): void {
    const target = typeof time === 'string' ? Date.parse(time) : time;
    this.current = Math.max(this.current, target);
  }

  iso(): string {
    return this.now().toISOString();
  }
}

export interface PublishedMessage {
  readonly message: PluginMessage;
  readonly attributes: Record<string, MessageAttribute>;
}

/** The stage topics: records every publish (validated against the plugin message contract). */
export class RecordingDispatcher implements Dispatcher {
  readonly published: PublishedMessage[] = [];
  private undelivered: PluginMessage[] = [];

  constructor(private readonly journal: CallJournal) {}

  publish(message: PluginMessage): Promise<void> {
    return this.journal.call('dispatcher', 'publish', 'effect', [message], () => {
      const valid = pluginMessageSchema.parse(message);
      this.published.push({ message: copy(valid), attributes: buildMessageAttributes(valid) });
      this.undelivered.push(copy(valid));
    });
  }

  /** Publishes not yet handed to the fake plugins. */
  takeUndelivered(): PluginMessage[] {
    const taken = this.undelivered;
    this.undelivered = [];
    return taken;
  }

  /**
   * First-attempt dispatches of a stage (of one activity, when given): how often the stage was
   * entered and its plugins sent out. A stage is entered inline by the handler that completed the
   * stage before it, so this is what a `start-stage` command used to show.
   */
  toStage(stage: StageName, activity?: string): PluginMessage[] {
    return this.published
      .map((p) => p.message)
      .filter(
        (m) => m.stage === stage && m.attempt === 1 && (activity === undefined || m.activity === activity),
      );
  }

  /** The `plugins` of every publish, in order. */
  targets(): string[][] {
    return this.published.map((p) => [...p.message.plugins]);
  }
}

export interface SentCommand {
  readonly command: Command;
  readonly delaySeconds: number | undefined;
  readonly sentAt: string;
}

/** The stage inboxes: records every command (validated) and keeps a queue with delivery times. */
export class RecordingCommandBus implements CommandBus {
  readonly sent: SentCommand[] = [];
  private queue: { readonly command: Command; readonly deliverAt: number }[] = [];

  constructor(
    private readonly journal: CallJournal,
    private readonly clock: Clock,
  ) {}

  send(command: Command, options?: { readonly delaySeconds?: number }): Promise<void> {
    return this.journal.call('commands', 'send', 'effect', [command, options], () => {
      const valid = commandSchema.parse(command);
      const delaySeconds = options?.delaySeconds;
      if (
        delaySeconds !== undefined &&
        (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > 900)
      ) {
        throw new RangeError(`SQS DelaySeconds must be an integer from 0 to 900 (got ${delaySeconds})`);
      }
      const now = this.clock.now().getTime();
      this.sent.push({ command: copy(valid), delaySeconds, sentAt: new Date(now).toISOString() });
      this.queue.push({ command: copy(valid), deliverAt: now + (delaySeconds ?? 0) * 1000 });
    });
  }

  /** Commands not yet taken by the driver, with the time SQS would first deliver them. */
  takeQueued(): { readonly command: Command; readonly deliverAt: number }[] {
    const taken = this.queue;
    this.queue = [];
    return taken;
  }

  ofKind<K extends Command['kind']>(kind: K): Extract<Command, { kind: K }>[] {
    return this.sent.map((s) => s.command).filter((c): c is Extract<Command, { kind: K }> => c.kind === kind);
  }
}

/** The events topic: records every lifecycle event (validated). */
export class RecordingEventPublisher implements EventPublisher {
  readonly published: LifecycleEvent[] = [];

  constructor(private readonly journal: CallJournal) {}

  publish(event: LifecycleEvent): Promise<void> {
    return this.journal.call('events', 'publish', 'effect', [event], () => {
      this.published.push(copy(lifecycleEventSchema.parse(event)));
    });
  }

  ofType(type: LifecycleEvent['type']): LifecycleEvent[] {
    return this.published.filter((e) => e.type === type);
  }

  /** Distinct event ids of one type (what a consumer keeps after dropping duplicates). */
  idsOf(type: LifecycleEvent['type']): string[] {
    return [...new Set(this.ofType(type).map((e) => e.eventId))];
  }
}

/**
 * The engine's own SNS filter-policy evaluator (lambdas/engine/filter-policy.ts), as the stage handler
 * uses it: a registration without a policy always matches.
 */
export const snsFilterMatcher: FilterMatcher = (registration, message) => {
  if (!registration.filterPolicy) return true;
  return matchesFilterPolicy(
    validateFilterPolicy(registration.filterPolicy),
    registration.filterPolicyScope,
    message,
  );
};

export interface ObservedCall {
  readonly name: keyof EngineObserver;
  readonly info: unknown;
}

function recordingObserver(log: ObservedCall[]): EngineObserver {
  const record =
    (name: keyof EngineObserver) =>
    (info: unknown): void => {
      log.push({ name, info });
    };
  return {
    runStarted: record('runStarted'),
    runEnded: record('runEnded'),
    stageCompleted: record('stageCompleted'),
    stageOverhead: record('stageOverhead'),
    pluginFinished: record('pluginFinished'),
    pluginRetried: record('pluginRetried'),
    lateReport: record('lateReport'),
    note: (message, detail) => log.push({ name: 'note', info: { message, detail } }),
  };
}

// ---------------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------------

export interface HarnessOptions {
  /** @default { reference: ['intake', 'assess', 'settle'] } */
  readonly workflows?: Readonly<Record<string, readonly string[]>>;
  /** @default - SETTINGS for every activity of the workflows */
  readonly activities?: Readonly<Record<string, ActivitySettings>>;
  /** @default T0 */
  readonly now?: string;
  /** @default snsFilterMatcher */
  readonly matchesFilter?: FilterMatcher;
}

export interface EngineHarness {
  readonly deps: EngineDeps;
  readonly config: EngineConfig;
  readonly journal: CallJournal;
  readonly store: MemoryStatusStore;
  readonly registry: MemoryRegistry;
  readonly dispatcher: RecordingDispatcher;
  readonly commands: RecordingCommandBus;
  readonly events: RecordingEventPublisher;
  readonly clock: ManualClock;
  readonly observed: ObservedCall[];
}

export function createHarness(options: HarnessOptions = {}): EngineHarness {
  const workflows = options.workflows ?? { [WORKFLOW]: [...ACTIVITIES] };
  const activities =
    options.activities ??
    Object.fromEntries([...new Set(Object.values(workflows).flat())].map((activity) => [activity, SETTINGS]));
  const config: EngineConfig = { workflows, activities, inboxUrl, topicArn };
  const journal = new CallJournal();
  const clock = new ManualClock(options.now);
  const store = new MemoryStatusStore({ clock, journal });
  const registry = new MemoryRegistry({ journal });
  const dispatcher = new RecordingDispatcher(journal);
  const commands = new RecordingCommandBus(journal, clock);
  const events = new RecordingEventPublisher(journal);
  const observed: ObservedCall[] = [];
  const deps: EngineDeps = {
    store,
    registry,
    dispatcher,
    commands,
    events,
    clock,
    config,
    matchesFilter: options.matchesFilter ?? snsFilterMatcher,
    observer: recordingObserver(observed),
  };
  return { deps, config, journal, store, registry, dispatcher, commands, events, clock, observed };
}

// ---------------------------------------------------------------------------------------------------
// Arranging
// ---------------------------------------------------------------------------------------------------

export interface PluginSpec {
  readonly activity: string;
  readonly stage: StageName;
  readonly name: string;
  /** @default true */
  readonly mandatory?: boolean;
  readonly order?: number;
  readonly overrides?: Readonly<Record<string, { readonly mandatory?: boolean }>>;
  readonly filterPolicy?: Readonly<Record<string, unknown>>;
  readonly filterPolicyScope?: 'MessageAttributes' | 'MessageBody';
  readonly maxAttempts?: number;
  readonly deadlineSeconds?: number;
}

const parsedRegistrations = new Map<string, Registration>();

/** The registration of `spec`, validated (defaults applied). Parsed once per distinct spec. */
export function registration(spec: PluginSpec): Registration {
  const id = JSON.stringify(spec);
  const cached = parsedRegistrations.get(id);
  if (cached) return copy(cached);
  const parsed = parseRegistration(spec);
  parsedRegistrations.set(id, parsed);
  return copy(parsed);
}

function parseRegistration(spec: PluginSpec): Registration {
  return registrationSchema.parse({
    activity: spec.activity,
    stage: spec.stage,
    info: {
      name: spec.name,
      default: { mandatory: spec.mandatory ?? true },
      ...(spec.overrides ? { overrides: spec.overrides } : {}),
      ...(spec.order !== undefined ? { order: spec.order } : {}),
      ...(spec.maxAttempts !== undefined ? { maxAttempts: spec.maxAttempts } : {}),
      ...(spec.deadlineSeconds !== undefined ? { deadlineSeconds: spec.deadlineSeconds } : {}),
    },
    ...(spec.filterPolicy ? { filterPolicy: spec.filterPolicy } : {}),
    ...(spec.filterPolicyScope ? { filterPolicyScope: spec.filterPolicyScope } : {}),
  });
}

export async function register(h: EngineHarness, ...specs: readonly PluginSpec[]): Promise<void> {
  for (const spec of specs) await h.registry.put(registration(spec));
}

/** Registers the reference run's 21 plugins: per activity `<a>-check` (pre), `<a>-p1..p5`, `<a>-record` (post). */
export async function registerReferencePlugins(
  h: EngineHarness,
  options: { readonly optional?: readonly string[]; readonly activities?: readonly string[] } = {},
): Promise<string[]> {
  const names: string[] = [];
  for (const activity of options.activities ?? ACTIVITIES) {
    const specs: PluginSpec[] = [
      { activity, stage: 'pre', name: `${activity}-check`, order: 10 },
      ...[1, 2, 3, 4, 5].map((n) => ({ activity, stage: 'parallel' as const, name: `${activity}-p${n}` })),
      { activity, stage: 'post', name: `${activity}-record`, order: 10 },
    ];
    for (const spec of specs) {
      await register(h, { ...spec, mandatory: !(options.optional ?? []).includes(spec.name) });
      names.push(spec.name);
    }
  }
  return names;
}

export function startRequest(
  uid: string,
  fields: Partial<Pick<StartRequest, 'metadata' | 'rerun' | 'metadataOverride' | 'workflow'>> = {},
): StartRequest {
  return startRequestSchema.parse({ workflow: WORKFLOW, uid, ...fields });
}

export const runKey = (uid: string, workflow: string = WORKFLOW): RunKey => ({ workflow, uid });
export const stageKey = (uid: string, activity: string, stage: StageName): StageKey => ({
  ...runKey(uid),
  activity,
  stage,
});
export const pluginKey = (uid: string, activity: string, stage: StageName, plugin: string): PluginKey => ({
  ...stageKey(uid, activity, stage),
  plugin,
});

export type PluginResponse =
  | {
      readonly status: 'Complete';
      readonly result?: unknown;
      readonly message?: string;
      readonly afterSeconds?: number;
    }
  | {
      readonly status: 'Error';
      readonly retryable?: boolean;
      readonly message?: string;
      readonly afterSeconds?: number;
    }
  | { readonly status: 'In Progress'; readonly message?: string; readonly afterSeconds?: number };

/** The report a plugin sends for `message` (validated against the report contract). */
export function reportFor(
  message: Pick<PluginMessage, 'workflow' | 'uid' | 'generation' | 'activity' | 'stage' | 'attempt'>,
  plugin: string,
  response: PluginResponse,
  reportedAt: string = T0,
): Report {
  const base = {
    kind: 'report' as const,
    workflow: message.workflow,
    uid: message.uid,
    generation: message.generation,
    activity: message.activity,
    stage: message.stage,
    plugin,
    attempt: message.attempt,
    reportedAt,
    ...(response.message !== undefined ? { message: response.message } : {}),
  };
  const input: ReportInput =
    response.status === 'Complete'
      ? { ...base, status: 'Complete', ...(response.result !== undefined ? { result: response.result } : {}) }
      : response.status === 'Error'
        ? {
            ...base,
            status: 'Error',
            ...(response.retryable !== undefined ? { retryable: response.retryable } : {}),
          }
        : { ...base, status: 'In Progress' };
  return reportSchema.parse(input);
}

/** Hands one report to the engine, as the stage handler does for a batch of one. */
export function deliverReport(h: EngineHarness, report: Report): Promise<SignalResult[]> {
  return applySignals(h.deps, stageKeyOfMessage(report), [{ kind: 'report', report }]);
}

export function stageKeyOfMessage(m: StageKey): StageKey {
  return { workflow: m.workflow, uid: m.uid, activity: m.activity, stage: m.stage };
}

/** The last publish that targeted `plugin`. */
export function lastMessageFor(h: EngineHarness, plugin: string): PluginMessage {
  const found = [...h.dispatcher.published].reverse().find((p) => p.message.plugins.includes(plugin));
  if (!found) throw new Error(`nothing was published to plugin "${plugin}"`);
  return found.message;
}

// ---------------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------------

export interface DeliveryContext {
  readonly plugin: string;
  readonly message: PluginMessage;
  readonly activity: string;
  readonly stage: StageName;
  readonly attempt: number;
  readonly generation: number;
  /** 1 for the first delivery of a message with this plugin, run, stage, generation and attempt. */
  readonly delivery: number;
}

/** How a fake plugin answers a delivery: its reports in order; none (undefined or []) = silent. */
export type PluginScript = (
  context: DeliveryContext,
) => PluginResponse | readonly PluginResponse[] | undefined;

export const completes: PluginScript = () => ({ status: 'Complete' });
export const staysSilent: PluginScript = () => undefined;
/** Fails the first `times` attempts with a retryable error, then completes. */
export const failsAttempts =
  (times: number, message = 'temporary failure'): PluginScript =>
  ({ attempt }) =>
    attempt <= times ? { status: 'Error', retryable: true, message } : { status: 'Complete' };

export type InboxItem =
  | { readonly kind: 'start'; readonly request: StartRequest }
  | { readonly kind: 'command'; readonly command: Command }
  | { readonly kind: 'report'; readonly report: Report }
  | { readonly kind: 'delivery'; readonly message: PluginMessage; readonly plugin: string };

export interface DriveOptions {
  /** A start request to deliver first (through the driver, so crashes on it are redelivered too). */
  readonly start?: StartRequest;
  /** Fake plugins by name. @default - every plugin completes */
  readonly plugins?: Readonly<Record<string, PluginScript>>;
  /** Deliver every message (commands, reports, SNS deliveries) twice. */
  readonly duplicate?: boolean;
  /** Pick the next deliverable message at random (seeded) instead of first-in first-out. */
  readonly shuffleSeed?: number;
  /** Counting from the start of `drive`, the n-th write or side effect takes effect and then crashes. */
  readonly crashAfterStep?: number;
  /** Seconds until a message whose handling crashed is delivered again. @default 0 */
  readonly redeliverySeconds?: number;
  /** Run the deadline sweeper 1 s after each deadline passes (before later messages). @default true */
  readonly sweep?: boolean;
  /** Reports and timeouts of one stage handed to `applySignals` together, at most. @default 1 */
  readonly batchSignals?: number;
  /** @default 20_000 */
  readonly maxSteps?: number;
}

export interface DriveResult {
  /** Messages handed to the engine or to a fake plugin. */
  readonly steps: number;
  /** Messages delivered again after their handling threw. */
  readonly redelivered: number;
  /** Messages the handler would quarantine (a non-retryable engine error), with the error. */
  readonly quarantined: { readonly item: InboxItem; readonly error: Error }[];
  readonly starts: StartOutcome[];
  readonly sweeps: number;
}

interface Pending {
  readonly item: InboxItem;
  readonly deliverAt: number;
  readonly seq: number;
  /** Delivered again after its handling failed (SQS: `ApproximateReceiveCount` > 1). */
  readonly redelivered: boolean;
}

/**
 * Delivers messages in time order until nothing is left to deliver and (with `sweep`) no deadline of an
 * active run is left to pass. The clock jumps to the next message or sweep when nothing is due.
 */
export async function drive(h: EngineHarness, options: DriveOptions = {}): Promise<DriveResult> {
  const random = options.shuffleSeed === undefined ? undefined : seededRandom(options.shuffleSeed);
  const maxSteps = options.maxSteps ?? 20_000;
  const batchSize = options.batchSignals ?? 1;
  const pending: Pending[] = [];
  const deliveries = new Map<string, number>();
  const quarantined: { item: InboxItem; error: Error }[] = [];
  const starts: StartOutcome[] = [];
  let seq = 0;
  let steps = 0;
  let redelivered = 0;
  let sweeps = 0;
  let lastSweep = '';

  const enqueue = (
    item: InboxItem,
    deliverAt: number,
    copies = options.duplicate ? 2 : 1,
    redelivery = false,
  ): void => {
    for (let i = 0; i < copies; i += 1)
      pending.push({ item, deliverAt, seq: seq++, redelivered: redelivery });
  };
  const collect = (): void => {
    for (const { command, deliverAt } of h.commands.takeQueued())
      enqueue({ kind: 'command', command }, deliverAt);
    for (const message of h.dispatcher.takeUndelivered()) {
      for (const plugin of snsRecipients(h, message)) enqueue({ kind: 'delivery', message, plugin }, now());
    }
  };
  const now = (): number => h.clock.now().getTime();

  if (options.crashAfterStep !== undefined) h.journal.crashAfterStep(options.crashAfterStep);
  if (options.start) enqueue({ kind: 'start', request: options.start }, now(), 1);

  for (;;) {
    collect();
    const time = now();
    const ready = pending.filter((p) => p.deliverAt <= time);
    if (ready.length === 0) {
      const nextMessage = pending.length > 0 ? Math.min(...pending.map((p) => p.deliverAt)) : undefined;
      // The sweeper runs on its own schedule: it acts as soon as a deadline has passed (+1 s).
      const overdue = options.sweep === false ? undefined : await nextDeadline(h);
      const sweepAt = overdue ? Math.max(overdue.time + 1000, now()) : undefined;
      if (sweepAt === undefined || (nextMessage !== undefined && nextMessage <= sweepAt)) {
        if (nextMessage === undefined) break;
        h.clock.setAtLeast(nextMessage);
        continue;
      }
      h.clock.setAtLeast(sweepAt);
      if (overdue?.signature === lastSweep && nextMessage === undefined) break; // a sweep changed nothing
      lastSweep = overdue?.signature ?? '';
      sweeps += 1;
      try {
        await sweepDeadlines(h.deps);
      } catch (error) {
        if (!(error instanceof InjectedFault)) throw error;
      }
      continue;
    }
    if (steps >= maxSteps) throw new Error(`drive: still busy after ${maxSteps} steps`);
    const picked = random ? ready[Math.floor(random() * ready.length)] : earliest(ready);
    if (!picked) break;
    const batch = [picked, ...(isSignal(picked.item) ? sameStageSignals(ready, picked, batchSize - 1) : [])];
    for (const taken of batch) pending.splice(pending.indexOf(taken), 1);
    steps += 1;
    const redeliver = (taken: Pending): void => {
      redelivered += 1;
      enqueue(taken.item, now() + (options.redeliverySeconds ?? 0) * 1000, 1, true);
    };
    try {
      const outcome = await handle(h, batch, options, deliveries, starts, enqueue);
      for (const id of outcome.retry) {
        const taken = batch[Number(id)];
        if (taken) redeliver(taken);
      }
      for (const { id, reason } of outcome.quarantine) {
        const taken = batch[Number(id)];
        if (taken) quarantined.push({ item: taken.item, error: new QuarantinedMessage(reason) });
      }
    } catch (error) {
      if (error instanceof InjectedFault || (error instanceof EngineError && error.retryable)) {
        for (const taken of batch) redeliver(taken);
      } else if (error instanceof EngineError) {
        for (const taken of batch) quarantined.push({ item: taken.item, error });
      } else {
        throw error;
      }
    }
  }
  return { steps, redelivered, quarantined, starts, sweeps };
}

/** A message the stage handler would put to the dead-letter queue, with its reason. */
export class QuarantinedMessage extends Error {
  override readonly name = 'QuarantinedMessage';
}

const NOTHING_FAILED: InboxOutcome = { retry: [], quarantine: [] };

async function handle(
  h: EngineHarness,
  batch: readonly Pending[],
  options: DriveOptions,
  deliveries: Map<string, number>,
  starts: StartOutcome[],
  enqueue: (item: InboxItem, deliverAt: number) => void,
): Promise<InboxOutcome> {
  const first = batch[0]?.item;
  if (!first) return NOTHING_FAILED;
  switch (first.kind) {
    case 'start':
      starts.push(await startRun(h.deps, first.request));
      return NOTHING_FAILED;
    case 'delivery': {
      const { message, plugin } = first;
      const id = `${message.workflow}#${message.uid}#g${message.generation}#${message.activity}#${message.stage}#${plugin}#a${message.attempt}`;
      const delivery = (deliveries.get(id) ?? 0) + 1;
      deliveries.set(id, delivery);
      const script = options.plugins?.[plugin] ?? completes;
      const answer = script({
        plugin,
        message,
        activity: message.activity,
        stage: message.stage,
        attempt: message.attempt,
        generation: message.generation,
        delivery,
      });
      const responses: readonly PluginResponse[] =
        answer === undefined ? [] : 'status' in answer ? [answer] : answer;
      for (const response of responses) {
        const at = h.clock.now().getTime() + (response.afterSeconds ?? 0) * 1000;
        enqueue(
          { kind: 'report', report: reportFor(message, plugin, response, new Date(at).toISOString()) },
          at,
        );
      }
      return NOTHING_FAILED;
    }
    case 'command':
    case 'report': {
      // The stage handler's own routing and ordering (engine/inbox.ts), on the messages of one inbox.
      const message = first.kind === 'command' ? first.command : first.report;
      const items = batch.map((p, index) => ({
        id: String(index),
        message: p.item.kind === 'command' ? p.item.command : (p.item as { report: Report }).report,
        redelivered: p.redelivered,
      }));
      return handleInboxBatch(h.deps, { activity: message.activity, stage: message.stage }, items);
    }
  }
}

/** First in, first out: the earliest due, then the earliest queued. */
function earliest(ready: readonly Pending[]): Pending | undefined {
  let first: Pending | undefined;
  for (const p of ready) {
    if (!first || p.deliverAt < first.deliverAt || (p.deliverAt === first.deliverAt && p.seq < first.seq))
      first = p;
  }
  return first;
}

function isSignal(item: InboxItem): boolean {
  return item.kind === 'report' || (item.kind === 'command' && item.command.kind === 'timeout');
}

function signalStage(item: InboxItem): string {
  const m = item.kind === 'report' ? item.report : item.kind === 'command' ? item.command : undefined;
  return m ? `${m.workflow}#${m.uid}#${m.activity}#${m.stage}` : '';
}

function sameStageSignals(ready: readonly Pending[], picked: Pending, max: number): Pending[] {
  if (max <= 0) return [];
  const key = signalStage(picked.item);
  return ready.filter((p) => p !== picked && isSignal(p.item) && signalStage(p.item) === key).slice(0, max);
}

/** Who SNS delivers a publish to: plugins it targets whose subscription's filter policy matches. */
function snsRecipients(h: EngineHarness, message: PluginMessage): string[] {
  const attributes = buildMessageAttributes(message);
  return message.plugins.filter((plugin) => {
    const subscription = h.registry.peekOne(message.activity, message.stage, plugin);
    if (!subscription) return false;
    if (!subscription.filterPolicy) return true;
    return h.deps.matchesFilter(subscription, { attributes, body: JSON.stringify(message) });
  });
}

/** The earliest deadline of an `In Progress` plugin of an active run, and what is overdue then. */
async function nextDeadline(h: EngineHarness): Promise<{ time: number; signature: string } | undefined> {
  const active = new Set(
    h.store.findRuns((r) => r.state === 'In Progress').map((r) => `${r.workflow}#${r.uid}`),
  );
  const running = h.store.findPlugins(
    (p) => p.state === 'In Progress' && p.deadline !== undefined && active.has(`${p.workflow}#${p.uid}`),
  );
  if (running.length === 0) return undefined;
  const time = Math.min(...running.map((p) => Date.parse(p.deadline ?? '')));
  const signature = running
    .filter((p) => Date.parse(p.deadline ?? '') <= time)
    .map((p) => `${p.activity}/${p.stage}/${p.plugin}@g${p.generation}a${p.attempt}`)
    .sort()
    .join(',');
  return { time, signature };
}

/** A small deterministic PRNG (mulberry32), so a shuffled order can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// ---------------------------------------------------------------------------------------------------
// What happened: counts taken from the journal
// ---------------------------------------------------------------------------------------------------

export interface ExactlyOnceSummary {
  /** Applied run transitions into each state, e.g. `{ Complete: 1 }`. */
  readonly runTransitions: Record<string, number>;
  /** Stage records created, per `<activity>/<stage>@g<generation>`. */
  readonly stagesCreated: Record<string, number>;
  /** Final outcomes applied (counted down), per `<activity>/<stage>/<plugin>`. */
  readonly pluginsCounted: Record<string, number>;
  /** Applied stage moves into Complete (a transition, or the count-down that completed it), per `<activity>/<stage>`. */
  readonly stagesCompleted: Record<string, number>;
}

export function summarize(h: EngineHarness, uid: string): ExactlyOnceSummary {
  const runTransitions: Record<string, number> = {};
  const stagesCreated: Record<string, number> = {};
  const pluginsCounted: Record<string, number> = {};
  const stagesCompleted: Record<string, number> = {};
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  for (const entry of h.journal.of('store')) {
    switch (entry.method) {
      case 'transitionRun': {
        const [key, , patch] = entry.args as [RunKey, unknown, RunPatch];
        const result = entry.result as Transition<RunRecord> | undefined;
        if (key.uid === uid && result?.applied && patch.state) bump(runTransitions, patch.state);
        break;
      }
      case 'transitionStage': {
        const [key, , patch] = entry.args as [StageKey, unknown, StagePatch];
        const result = entry.result as Transition<StageRecord> | undefined;
        if (key.uid === uid && result?.applied && patch.state === 'Complete') {
          bump(stagesCompleted, `${key.activity}/${key.stage}`);
        }
        break;
      }
      case 'createStageIfAbsent': {
        const [stage] = entry.args as [StageRecord];
        const result = entry.result as { created: boolean } | undefined;
        if (stage.uid === uid && result?.created) {
          bump(stagesCreated, `${stage.activity}/${stage.stage}@g${stage.generation}`);
        }
        break;
      }
      case 'recordFinalOutcomes': {
        const [key] = entry.args as [StageKey];
        const result = entry.result as { applied: PluginKey[]; completed?: boolean } | undefined;
        for (const k of result?.applied ?? []) {
          if (k.uid === uid) bump(pluginsCounted, `${k.activity}/${k.stage}/${k.plugin}`);
        }
        // A stage that holds its plugins completes in the write that counts its last plugin down.
        if (key.uid === uid && result?.completed) bump(stagesCompleted, `${key.activity}/${key.stage}`);
        break;
      }
    }
  }
  return { runTransitions, stagesCreated, pluginsCounted, stagesCompleted };
}
