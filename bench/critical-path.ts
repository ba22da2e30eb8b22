/**
 * The critical path of one measured run, read from the meter's per-invocation records: which handler
 * invocations and hops the run's end waited for, and which calls each of those invocations made, in
 * order, before it emitted the message the next step waited for. Pure: no AWS, no clock.
 *
 * Walks back from the call that published the run's terminal lifecycle event. An invocation that
 * handled an inbox batch waited for the latest-sent message of its batch: an engine command (an SQS
 * hop from the invocation that sent it) or a plugin report (a fan-out from the invocation that
 * published the dispatch the report answers). Calls an invocation made after its emission on the path
 * (e.g. a status write after the dispatch publish) are off the critical path and left out.
 */
import type { CallRecord, InvocationRecord, ReceivedRecord } from './meter.js';

export type CallKind = 'dynamodb' | 'snsPublish' | 'sqsSend';

/** Calls that overlapped in time (sent together, e.g. `Promise.all`): the slowest one counts. */
export type CallWave = readonly CallKind[];

export interface InvocationStep {
  readonly type: 'invocation';
  readonly kind: 'start' | 'stage';
  /** The stage whose inbox triggered it (stage invocations). */
  readonly activity?: string;
  readonly stage?: string;
  /** Calls up to and including the emission on the path, grouped into waves of overlapping calls. */
  readonly waves: readonly CallWave[];
  /** What it emitted for the next step: a dispatch, an engine command or the terminal event. */
  readonly emits: 'dispatch' | 'command' | 'end';
  /** Calls it made after its emission (off the critical path). */
  readonly callsAfter: number;
}

export interface SqsHopStep {
  readonly type: 'sqs-hop';
  /** The inbox the command went to. */
  readonly activity: string;
  readonly stage: string;
  readonly command: string;
}

export interface FanOutStep {
  readonly type: 'fan-out';
  readonly activity: string;
  readonly stage: string;
  /** Plugins the dispatch targeted: each runs in parallel and reports to the stage's inbox. */
  readonly plugins: number;
}

export type PathStep = InvocationStep | SqsHopStep | FanOutStep;

export interface CriticalPath {
  readonly steps: readonly PathStep[];
  /** Per stage reached, in order: how it was reached and what its hops and invocations cost. */
  readonly stages: readonly StageOnPath[];
}

export interface StageOnPath {
  readonly activity: string;
  readonly stage: string;
  /**
   * How the stage's dispatch was reached: `sqs-command` (a command through the stage's inbox),
   * `inline` (published by the invocation that completed the previous stage) or `start` (by the start
   * function).
   */
  readonly reachedBy: 'sqs-command' | 'inline' | 'start';
  readonly plugins: number;
  /**
   * Calls on the path, by kind, of the invocation that published this stage's dispatch (none for an
   * inline hand-off: that invocation is the previous stage's report invocation, counted there).
   */
  readonly dispatchCalls: Record<CallKind, number>;
  /** Calls on the path, by kind, of the invocation that handled this stage's completing reports. */
  readonly reportCalls: Record<CallKind, number>;
  /** Inbox hops on the path into this stage's inbox (command hop + report fan-in). */
  readonly inboxHops: number;
}

export class CriticalPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CriticalPathError';
  }
}

const TERMINAL_EVENTS = new Set(['run.completed', 'run.failed', 'run.cancelled']);

function kindOf(call: CallRecord): CallKind {
  if (call.service === 'dynamodb') return 'dynamodb';
  return call.service === 'sns' ? 'snsPublish' : 'sqsSend';
}

/** Groups calls into waves: a call sent before every earlier call of its wave answered joins it. */
export function waves(calls: readonly CallRecord[]): CallWave[] {
  const out: CallKind[][] = [];
  let current: CallKind[] = [];
  let currentEnd = Number.NEGATIVE_INFINITY;
  for (const call of calls) {
    if (current.length > 0 && call.startedMs < currentEnd) {
      current.push(kindOf(call));
      currentEnd = Math.max(currentEnd, call.endedMs);
      continue;
    }
    if (current.length > 0) out.push(current);
    current = [kindOf(call)];
    currentEnd = call.endedMs;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const reportKey = (r: {
  uid?: string | undefined;
  generation?: number | undefined;
  activity?: string | undefined;
  stage?: string | undefined;
  attempt?: number | undefined;
}) => `${r.uid}|${r.generation}|${r.activity}|${r.stage}|${r.attempt}`;

interface Emission {
  readonly invocation: number;
  readonly call: number;
  readonly seq: number;
}

/** The critical path of one run from its invocations (in the order the harness made them). */
export function criticalPath(invocations: readonly InvocationRecord[]): CriticalPath {
  // Who sent each command message, and who published each dispatch (by plugin and attempt).
  const commandSender = new Map<string, Emission>();
  const dispatcher = new Map<string, Emission & { plugins: number; activity: string; stage: string }>();
  let end: Emission | undefined;
  invocations.forEach((inv, i) => {
    inv.calls.forEach((call, c) => {
      const at = { invocation: i, call: c, seq: call.seq };
      for (const id of call.messageIds ?? []) commandSender.set(id, at);
      if (call.dispatch) {
        for (const plugin of call.dispatch.plugins) {
          dispatcher.set(`${reportKey(call.dispatch)}|${plugin}`, {
            ...at,
            plugins: call.dispatch.plugins.length,
            activity: call.dispatch.activity,
            stage: call.dispatch.stage,
          });
        }
      }
      if (call.eventType && TERMINAL_EVENTS.has(call.eventType)) end = at;
    });
  });
  if (!end) throw new CriticalPathError('no invocation published a terminal run event (the run did not end)');

  const reversed: PathStep[] = [];
  let at: Emission = end;
  let emits: InvocationStep['emits'] = 'end';
  const seen = new Set<number>();
  for (;;) {
    if (seen.has(at.invocation)) throw new CriticalPathError('the invocations form a cycle');
    seen.add(at.invocation);
    const inv = invocations[at.invocation] as InvocationRecord;
    const first = inv.received[0];
    reversed.push({
      type: 'invocation',
      kind: inv.kind,
      ...(inv.kind === 'stage' && first?.activity && first.stage
        ? { activity: first.activity, stage: first.stage }
        : {}),
      waves: waves(inv.calls.slice(0, at.call + 1)),
      emits,
      callsAfter: inv.calls.length - at.call - 1,
    });
    if (inv.kind === 'start') break;
    const cause = latestCause(inv.received, commandSender, dispatcher);
    if (!cause) {
      throw new CriticalPathError(
        `an invocation of ${first?.activity}/${first?.stage} handled messages no recorded call sent`,
      );
    }
    if (cause.type === 'command') {
      reversed.push({
        type: 'sqs-hop',
        activity: cause.message.activity ?? '',
        stage: cause.message.stage ?? '',
        command: cause.message.kind,
      });
      emits = 'command';
    } else {
      reversed.push({
        type: 'fan-out',
        activity: cause.from.activity,
        stage: cause.from.stage,
        plugins: cause.from.plugins,
      });
      emits = 'dispatch';
    }
    at = cause.from;
  }
  const steps = reversed.reverse();
  return { steps, stages: stagesOf(steps) };
}

type Cause =
  | { type: 'command'; message: ReceivedRecord; from: Emission }
  | {
      type: 'report';
      message: ReceivedRecord;
      from: Emission & { plugins: number; activity: string; stage: string };
    };

function latestCause(
  received: readonly ReceivedRecord[],
  commandSender: ReadonlyMap<string, Emission>,
  dispatcher: ReadonlyMap<string, Emission & { plugins: number; activity: string; stage: string }>,
): Cause | undefined {
  let best: Cause | undefined;
  for (const message of received) {
    let cause: Cause | undefined;
    if (message.kind === 'report') {
      const from = dispatcher.get(`${reportKey(message)}|${message.plugin}`);
      if (from) cause = { type: 'report', message, from };
    } else {
      const from = commandSender.get(message.messageId);
      if (from) cause = { type: 'command', message, from };
    }
    if (cause && (!best || cause.from.seq > best.from.seq)) best = cause;
  }
  return best;
}

const zero = (): Record<CallKind, number> => ({ dynamodb: 0, snsPublish: 0, sqsSend: 0 });

function countCalls(step: InvocationStep): Record<CallKind, number> {
  const counts = zero();
  for (const wave of step.waves) for (const call of wave) counts[call] += 1;
  return counts;
}

function stagesOf(steps: readonly PathStep[]): StageOnPath[] {
  const stages: StageOnPath[] = [];
  for (let i = 0; i < steps.length; i += 1) {
    const step = steps[i] as PathStep;
    if (step.type !== 'fan-out') continue;
    const dispatching = steps[i - 1];
    const before = steps[i - 2];
    const reporting = steps[i + 1];
    const reachedBy: StageOnPath['reachedBy'] =
      dispatching?.type === 'invocation' && dispatching.kind === 'start'
        ? 'start'
        : before?.type === 'sqs-hop' && before.activity === step.activity && before.stage === step.stage
          ? 'sqs-command'
          : 'inline';
    stages.push({
      activity: step.activity,
      stage: step.stage,
      reachedBy,
      plugins: step.plugins,
      // Inline: the dispatching invocation is the previous stage's report invocation, counted there.
      dispatchCalls:
        reachedBy !== 'inline' && dispatching?.type === 'invocation' ? countCalls(dispatching) : zero(),
      reportCalls: reporting?.type === 'invocation' ? countCalls(reporting) : zero(),
      inboxHops: 1 + (reachedBy === 'sqs-command' ? 1 : 0),
    });
  }
  return stages;
}

/** Every call on the path, by kind. */
export function callsOnPath(path: CriticalPath): Record<CallKind, number> {
  const counts = zero();
  for (const step of path.steps) {
    if (step.type !== 'invocation') continue;
    for (const [k, v] of Object.entries(countCalls(step))) counts[k as CallKind] += v;
  }
  return counts;
}
