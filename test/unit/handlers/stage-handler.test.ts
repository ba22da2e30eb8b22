/**
 * The stage orchestrator's SQS plumbing: quarantine what can never succeed (with the reason), hand
 * back what failed for a transient reason as partial batch failures, and process the rest.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createObservability } from '../../../lambdas/handlers/observability.js';
import { createStageHandler } from '../../../lambdas/handlers/stage.js';
import { createHarness, register, WORKFLOW } from '../../support/engine-harness.js';

function record(id: string, body: unknown, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:inbox',
    awsRegion: 'us-east-1',
  };
}

function setUp() {
  const h = createHarness();
  const quarantined: { body: string; reason: string; origin: string }[] = [];
  const handler = createStageHandler({
    engine: h.deps,
    self: { activity: 'intake', stage: 'pre' },
    observability: createObservability('stage-test', 'test'),
    quarantine: {
      quarantine: async (body, reason, origin) => {
        quarantined.push({ body, reason, origin });
      },
    },
  });
  return { h, handler, quarantined };
}

const startStage = (uid: string) => ({
  kind: 'start-stage',
  workflow: WORKFLOW,
  uid,
  generation: 1,
  activity: 'intake',
  stage: 'pre',
});

describe('the stage orchestrator handler', () => {
  it('quarantines a body that is not JSON, naming the reason, and reports no batch failure for it', async () => {
    const { handler, quarantined } = setUp();

    const response = await handler({ Records: [record('m1', 'not json')] });

    expect(response.batchItemFailures).toEqual([]);
    expect(quarantined).toEqual([
      { body: 'not json', reason: 'the message body is not JSON', origin: 'intake/pre' },
    ]);
  });

  it('names the field and what was expected when a report does not match its schema', async () => {
    const { handler, quarantined } = setUp();
    const report = {
      schemaVersion: 1,
      kind: 'report',
      workflow: WORKFLOW,
      uid: 'u1',
      generation: 1,
      activity: 'intake',
      stage: 'pre',
      plugin: 'checker',
      attempt: 1,
      reportedAt: '2026-11-23T10:00:00.000Z',
    };

    await handler({
      Records: [
        record('m1', { ...report, status: 'Done' }),
        record('m2', { ...report, plugin: undefined, status: 'Complete' }),
      ],
    });

    expect(quarantined.map((q) => q.reason)).toEqual([
      "the message does not match its schema: status: Invalid discriminator value. Expected 'In Progress' | 'Complete' | 'Error'",
      'the message does not match its schema: plugin: Invalid input: expected string, received undefined',
    ]);
  });

  it('quarantines a message addressed to another stage', async () => {
    const { handler, quarantined } = setUp();

    await handler({ Records: [record('m1', { ...startStage('u1'), stage: 'post' })] });

    expect(quarantined[0]?.reason).toContain('addressed to intake/post, but this is the inbox of intake/pre');
  });

  it('quarantines a start-stage command for a run that does not exist', async () => {
    const { handler, quarantined } = setUp();

    await handler({ Records: [record('m1', startStage('ghost'))] });

    expect(quarantined[0]?.reason).toContain('No run "ghost"');
  });

  it('hands back only the messages of a run whose processing failed for a transient reason', async () => {
    const { h, handler } = setUp();
    await register(h, { activity: 'intake', stage: 'pre', name: 'validate' });
    for (const uid of ['u1', 'u2']) {
      await h.deps.store.createRunIfAbsent({
        workflow: WORKFLOW,
        uid,
        state: 'In Progress',
        generation: 1,
        activities: ['intake', 'assess', 'settle'],
        metadata: {},
        createdAt: '2026-11-23T10:00:00.000Z',
        updatedAt: '2026-11-23T10:00:00.000Z',
        stateTimes: {},
      });
    }
    h.journal.failNext('dispatcher', 'publish', { error: new Error('SNS is throttling') });

    const event: SQSEvent = { Records: [record('m1', startStage('u1')), record('m2', startStage('u2'))] };
    const response = await handler(event);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(h.dispatcher.published.map((p) => p.message.uid)).toEqual(['u2']);
  });
});
