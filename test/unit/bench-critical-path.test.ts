/**
 * The critical path read from hand-made invocation records (what the meter records on the harness):
 * the hops a run's end waited for, the calls on the path, and how each stage was reached.
 */
import { describe, expect, it } from 'vitest';
import { CriticalPathError, callsOnPath, criticalPath, waves } from '../../bench/critical-path.js';
import type { CallRecord, InvocationRecord, ReceivedRecord } from '../../bench/meter.js';

let seq = 0;
let clock = 0;
/** A call that starts after the previous one ended (or with `overlap`, before it ends). */
function call(
  service: CallRecord['service'],
  operation: string,
  extra: Partial<CallRecord> = {},
): CallRecord {
  seq += 1;
  clock += 10;
  return { service, operation, seq, startedMs: clock, endedMs: clock + 5, ...extra };
}
const dynamo = () => call('dynamodb', 'UpdateItem');
const event = (type: string) => call('sns', 'Publish', { eventType: type });
const dispatch = (activity: string, stage: string, plugins: string[], attempt = 1) =>
  call('sns', 'Publish', { dispatch: { uid: 'u', generation: 1, activity, stage, plugins, attempt } });
const command = (id: string, activity: string, stage: string) =>
  call('sqs', 'SendMessage', { command: { kind: 'start-stage', activity, stage }, messageIds: [id] });
const report = (
  id: string,
  activity: string,
  stage: string,
  plugin: string,
  attempt = 1,
): ReceivedRecord => ({
  messageId: id,
  kind: 'report',
  uid: 'u',
  generation: 1,
  activity,
  stage,
  plugin,
  attempt,
  status: 'Complete',
});
const stage = (received: ReceivedRecord[], calls: CallRecord[]): InvocationRecord => ({
  kind: 'stage',
  inboxUrl: `http://x/q-${received[0]?.activity}-${received[0]?.stage}-inbox`,
  received,
  calls,
});

describe('the critical path of a measured run', () => {
  it('follows a command hop and a fan-out, and leaves out calls after the emission', () => {
    const runs: InvocationRecord[] = [
      { kind: 'start', received: [], calls: [dynamo(), event('run.started'), command('m1', 'a', 'pre')] },
      stage(
        [{ messageId: 'm1', kind: 'start-stage', uid: 'u', generation: 1, activity: 'a', stage: 'pre' }],
        [dynamo(), dynamo(), dynamo(), dispatch('a', 'pre', ['p']), dynamo()],
      ),
      stage([report('r1', 'a', 'pre', 'p')], [dynamo(), dynamo(), event('run.completed')]),
    ];
    const path = criticalPath(runs);
    expect(path.steps.map((s) => s.type)).toEqual([
      'invocation',
      'sqs-hop',
      'invocation',
      'fan-out',
      'invocation',
    ]);
    expect(path.steps[0]).toMatchObject({ kind: 'start', emits: 'command', callsAfter: 0 });
    expect(path.steps[2]).toMatchObject({ kind: 'stage', emits: 'dispatch', callsAfter: 1 });
    expect(path.steps[3]).toMatchObject({ type: 'fan-out', activity: 'a', stage: 'pre', plugins: 1 });
    expect(path.steps[4]).toMatchObject({ emits: 'end', callsAfter: 0 });
    expect(path.stages).toEqual([
      {
        activity: 'a',
        stage: 'pre',
        reachedBy: 'sqs-command',
        plugins: 1,
        dispatchCalls: { dynamodb: 3, snsPublish: 1, sqsSend: 0 },
        reportCalls: { dynamodb: 2, snsPublish: 1, sqsSend: 0 },
        inboxHops: 2,
      },
    ]);
    expect(callsOnPath(path)).toEqual({ dynamodb: 6, snsPublish: 3, sqsSend: 1 });
  });

  it('recognises a dispatch from the start function and an inline hand-off between stages', () => {
    const runs: InvocationRecord[] = [
      { kind: 'start', received: [], calls: [dynamo(), dispatch('a', 'pre', ['p']), event('run.started')] },
      stage([report('r1', 'a', 'pre', 'p')], [dynamo(), dynamo(), dispatch('a', 'parallel', ['x', 'y'])]),
      // The first parallel report alone: it did not complete the stage.
      stage([report('r2', 'a', 'parallel', 'x')], [dynamo()]),
      stage([report('r3', 'a', 'parallel', 'y')], [dynamo(), event('run.completed')]),
    ];
    const path = criticalPath(runs);
    expect(path.steps.map((s) => s.type)).toEqual([
      'invocation',
      'fan-out',
      'invocation',
      'fan-out',
      'invocation',
    ]);
    expect(path.stages.map((s) => [s.stage, s.reachedBy, s.plugins, s.inboxHops])).toEqual([
      ['pre', 'start', 1, 1],
      ['parallel', 'inline', 2, 1],
    ]);
    // Inline: the dispatching invocation is the previous stage's report invocation, counted there.
    expect(path.stages[1]?.dispatchCalls).toEqual({ dynamodb: 0, snsPublish: 0, sqsSend: 0 });
    expect(path.stages[0]?.reportCalls).toEqual({ dynamodb: 2, snsPublish: 1, sqsSend: 0 });
    expect(path.steps[0]).toMatchObject({ kind: 'start', callsAfter: 1 });
  });

  it('waits for the latest-sent message of a batch', () => {
    const runs: InvocationRecord[] = [
      { kind: 'start', received: [], calls: [dispatch('a', 'pre', ['p']), dispatch('a', 'pre', ['p'], 2)] },
      // Reports of attempts 1 and 2 in one batch: attempt 2's dispatch came later.
      stage([report('r2', 'a', 'pre', 'p', 2), report('r1', 'a', 'pre', 'p', 1)], [event('run.completed')]),
    ];
    const path = criticalPath(runs);
    expect(path.steps[0]).toMatchObject({ kind: 'start', callsAfter: 0 });
    expect(path.steps[0]?.type === 'invocation' && path.steps[0].waves).toHaveLength(2);
  });

  it('says so when the run did not end or a message has no recorded sender', () => {
    expect(() => criticalPath([{ kind: 'start', received: [], calls: [dynamo()] }])).toThrow(
      CriticalPathError,
    );
    expect(() =>
      criticalPath([
        { kind: 'start', received: [], calls: [] },
        stage([report('r', 'a', 'pre', 'p')], [event('run.completed')]),
      ]),
    ).toThrow(/handled messages no recorded call sent/);
  });
});

describe('call waves', () => {
  it('groups calls sent before the earlier calls of their wave answered', () => {
    const a: CallRecord = { service: 'dynamodb', operation: 'GetItem', seq: 1, startedMs: 0, endedMs: 10 };
    const b: CallRecord = { service: 'sns', operation: 'Publish', seq: 2, startedMs: 2, endedMs: 30 };
    const c: CallRecord = { service: 'sqs', operation: 'SendMessage', seq: 3, startedMs: 20, endedMs: 25 };
    const d: CallRecord = { service: 'dynamodb', operation: 'PutItem', seq: 4, startedMs: 31, endedMs: 35 };
    expect(waves([a, b, c, d])).toEqual([['dynamodb', 'snsPublish', 'sqsSend'], ['dynamodb']]);
    expect(waves([])).toEqual([]);
  });
});
