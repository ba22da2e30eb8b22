/**
 * End to end with `events.eventBridge: 'create'`: the real Plugboard app and the example plugins,
 * bundled and deployed on the local cloud (moto's EventBridge backend carries the bus), plus a
 * consumer's stack whose event-pattern rule on the bus delivers to an SQS queue. Runs of `order`
 * (one retried payment, then a rerun of it; one payment that always fails) put their lifecycle events on
 * the bus; the queue receives every one of them, with the documented source and detail-type, and
 * the consumer's documented order — generation, then `at`, then phase — reproduces each run's story.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthExamples } from '../../examples/app.js';
import { DETAIL_TYPES, LIFECYCLE_PHASES } from '../../lambdas/adapters/event-bridge-publisher.js';
import { type LifecycleEvent, lifecycleEventSchema } from '../../lambdas/contracts/index.js';
import { composePlugboard } from '../../lib/plugboard-app.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import shippedConfig from '../../plugboard.config.js';
import { eventBusName, eventSource } from '../../plugin-kit/src/contracts/index.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const STAGE = 'evbus';
const D = { systemName: 'plugboard', stage: STAGE } as const;
const QUEUE_NAME = `consumer-${STAGE}-run-events`;

interface Delivered {
  readonly source: string;
  readonly detailType: string;
  readonly time: string;
  readonly event: LifecycleEvent;
}

/** The consumer's ordering (docs/contracts.md): generation, then `at`, then the phase of the type. */
const byRunOrder = (a: LifecycleEvent, b: LifecycleEvent) =>
  a.generation - b.generation ||
  a.at.localeCompare(b.at) ||
  LIFECYCLE_PHASES[a.type] - LIFECYCLE_PHASES[b.type];

function synthesize(directory: string): { app: string; examples: string } {
  const cdkJson = JSON.parse(readFileSync(join(import.meta.dirname, '../../cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const context = { ...cdkJson.context, stage: STAGE, ephemeral: true };
  const app = new App({ context, outdir: join(directory, 'app'), builtinCloudFormationValidation: false });
  const stacks = composePlugboard(app, {
    config: { ...shippedConfig, events: { eventBridge: 'create' } },
    nag: false,
  });
  // A consumer of the events, as a user would write it: a rule on the bus with an SQS target.
  const consumer = new Stack(app, `consumer-${STAGE}`);
  consumer.addStackDependency(stacks.core);
  const queue = new Queue(consumer, 'RunEvents', { queueName: QUEUE_NAME, enforceSSL: true });
  new Rule(consumer, 'PlugboardEvents', {
    eventBus: EventBus.fromEventBusName(consumer, 'Bus', eventBusName(D)),
    eventPattern: { source: [eventSource(D)] },
    targets: [new SqsQueue(queue)],
  });
  app.synth();
  synthExamples({ stage: STAGE, outdir: join(directory, 'examples'), context: { ...cdkJson.context } });
  return { app: join(directory, 'app'), examples: join(directory, 'examples') };
}

const scratch = mkdtempSync(join(tmpdir(), 'plugboard-evbus-'));
let env: DemoEnvironment | undefined;
let sqs: SQSClient;
const delivered: Delivered[] = [];

/** Drains the consumer queue until `done` holds (or the time is up). */
async function drainUntil(queueUrl: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of answer.Messages ?? []) {
      const body = JSON.parse(message.Body ?? '{}') as {
        source: string;
        'detail-type': string;
        time: string;
        detail: unknown;
      };
      delivered.push({
        source: body.source,
        detailType: body['detail-type'],
        time: body.time,
        event: lifecycleEventSchema.parse(body.detail),
      });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

const eventsOf = (uid: string): LifecycleEvent[] => {
  const unique = new Map<string, LifecycleEvent>();
  for (const { event } of delivered) if (event.uid === uid) unique.set(event.eventId, event);
  return [...unique.values()].sort(byRunOrder);
};

beforeAll(async () => {
  const assemblies = synthesize(scratch);
  const started = await DemoEnvironment.start(assemblies, {
    stage: STAGE,
    endpoint: moto.endpoint,
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
  });
  env = started;
  sqs = new SQSClient(started.local.clientConfig());
  const queueUrl = `${started.local.endpoint}/123456789012/${QUEUE_NAME}`;

  await Promise.all([
    started.startRun({ uid: 'retried', metadata: { failPayment: 'once' } }),
    started.startRun({ uid: 'failing', metadata: { failPayment: 'always' } }),
  ]);
  await Promise.all(['retried', 'failing'].map((uid) => started.waitForRun(uid, { timeoutMs: 240_000 })));
  await started.startRun({ uid: 'retried', metadata: { failPayment: 'once' }, rerun: true });
  await started.waitForRun('retried', { generation: 2, timeoutMs: 240_000 });
  const finals = (uid: string, generation: number) =>
    eventsOf(uid).some((e) => e.generation === generation && LIFECYCLE_PHASES[e.type] === 2);
  await drainUntil(queueUrl, () => finals('retried', 2) && finals('failing', 1), 60_000);
  // Anything still on its way (a duplicate from a retried message) is read too.
  await drainUntil(queueUrl, () => false, 2_000);
}, 600_000); // bundling both apps and deploying them take minutes on a loaded machine

afterAll(async () => {
  sqs?.destroy();
  await env?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("lifecycle events on EventBridge (events.eventBridge: 'create')", () => {
  it('reach a rule on the bus with the documented source and detail-type, the detail being the event', () => {
    expect(delivered.length).toBeGreaterThanOrEqual(9);
    for (const { source, detailType, time, event } of delivered) {
      expect(source).toBe('plugboard.plugboard');
      expect(detailType).toBe(DETAIL_TYPES[event.type]);
      // EventBridge's `time` is the event's `at`, to the second.
      expect(time).toBe(`${event.at.slice(0, 19)}Z`);
    }
  });

  it("tell a retried, then rerun, run's story in order by generation, at and phase", async () => {
    expect(eventsOf('retried').map((e) => `g${e.generation} ${e.type}`)).toEqual([
      'g1 run.started',
      'g1 plugin.retrying',
      'g1 run.completed',
      // The rerun does not retry the payment again (it completed in generation 1).
      'g2 run.rerun',
      'g2 run.completed',
    ]);
    const retrying = eventsOf('retried').filter((e) => e.type === 'plugin.retrying');
    expect(retrying.map((e) => `${e.activity}/${e.stage}/${e.plugin}`)).toEqual([
      'fulfilment/parallel/charge-payment',
    ]);
    const snapshot = await env?.readRun('retried');
    expect(eventsOf('retried').at(-1)?.at).toBe(snapshot?.run.endedAt);
  });

  it("tell a failing run's story in order, ending with the failure and its message", () => {
    const events = eventsOf('failing');
    expect(events.map((e) => e.type)).toEqual([
      'run.started',
      'plugin.retrying',
      'plugin.failed',
      'run.failed',
    ]);
    expect(events.at(-1)?.message).toContain('payment gateway timed out');
  });

  it('carry ids a consumer can drop duplicates by: one id per fact', () => {
    const ids = new Set(delivered.map(({ event }) => event.eventId));
    for (const id of ids) {
      const copies = delivered.filter(({ event }) => event.eventId === id).map(({ event }) => event);
      // A copy delivered twice is the same fact, field for field.
      for (const copy of copies) expect(copy).toEqual(copies[0]);
    }
    expect(ids.size).toBe(eventsOf('retried').length + eventsOf('failing').length);
  });
});
