/**
 * The stage handler checks every message's SQS `SenderId` before the engine sees it: a forged report
 * is quarantined with its reason and changes nothing, the genuine one then counts, a registration
 * made moments ago is found by a fresh registry read, and a registry that cannot be read hands the
 * batch back instead of refusing it.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { StageName } from '../../../lambdas/contracts/index.js';
import { type Registration, registrationSchema, STATES } from '../../../lambdas/contracts/index.js';
import { startRun } from '../../../lambdas/engine/start.js';
import { createObservability } from '../../../lambdas/handlers/observability.js';
import { createStageHandler, readSenderRules } from '../../../lambdas/handlers/stage.js';
import { createHarness, pluginKey, startRequest, WORKFLOW } from '../../support/engine-harness.js';

const CHECKER_ROLE = 'AROACHECKERROLE000001';
const OTHER_ROLE = 'AROAOTHERPLUGIN000002';
const ORCHESTRATOR_ROLE = 'AROAORCHESTRATOR00003';

function record(id: string, body: unknown, senderId: string): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: senderId,
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:inbox',
    awsRegion: 'us-east-1',
  };
}

const registration = (name: string, principals?: string[]): Registration =>
  registrationSchema.parse({
    activity: 'intake',
    stage: 'pre',
    info: { name, default: { mandatory: true } },
    ...(principals ? { principals } : {}),
  });

const report = (plugin: string) => ({
  schemaVersion: 1,
  kind: 'report',
  workflow: WORKFLOW,
  uid: 'u1',
  generation: 1,
  activity: 'intake',
  stage: 'pre',
  plugin,
  attempt: 1,
  reportedAt: '2026-11-23T10:00:01.000Z',
  status: 'Complete',
  result: { score: 1 },
});

async function setUp(options: { readonly failReads?: boolean } = {}) {
  const h = createHarness();
  await h.registry.put(registration('checker', [CHECKER_ROLE]));
  await h.registry.put(registration('other', [OTHER_ROLE]));
  await startRun(h.deps, startRequest('u1'));
  const quarantined: { reason: string }[] = [];
  const reads: boolean[] = [];
  let extra: Registration[] = [];
  const handler = createStageHandler({
    engine: h.deps,
    self: { activity: 'intake', stage: 'pre' },
    observability: createObservability('stage-senders-test', 'test'),
    quarantine: {
      quarantine: async (_body, reason) => {
        quarantined.push({ reason });
      },
    },
    senders: {
      rules: { engine: [ORCHESTRATOR_ROLE], operators: [] },
      registry: {
        list: async (activity: string, stage: StageName) => {
          if (options.failReads) throw new Error('DynamoDB is throttling');
          return [...(await h.registry.list(activity, stage)), ...extra];
        },
        invalidate: () => {
          reads.push(true);
        },
      },
    },
  });
  const addLater = (r: Registration) => {
    extra = [r];
  };
  return { h, handler, quarantined, reads, addLater };
}

describe('the stage handler’s sender check', () => {
  it('quarantines a report another plugin forged, changes nothing, and then counts the genuine one', async () => {
    const { h, handler, quarantined } = await setUp();
    const key = pluginKey('u1', 'intake', 'pre', 'checker');

    const forged = await handler({ Records: [record('f1', report('checker'), `${OTHER_ROLE}:other-fn`)] });

    expect(forged.batchItemFailures).toEqual([]);
    expect(quarantined.map((q) => q.reason)).toEqual([
      `unauthenticated sender: "${OTHER_ROLE}:other-fn" is not a registered principal of plugin "checker" in intake/pre`,
    ]);
    expect(h.store.peekPlugin(key)?.state).not.toBe(STATES.complete);

    await handler({ Records: [record('g1', report('checker'), `${CHECKER_ROLE}:checker-fn`)] });

    expect(h.store.peekPlugin(key)).toMatchObject({ state: STATES.complete, result: { score: 1 } });
    expect(quarantined).toHaveLength(1);
  });

  it('reads the registry afresh before it refuses, so a plugin registered a moment ago is not refused', async () => {
    const { handler, quarantined, reads, addLater } = await setUp();
    addLater(registration('newcomer', ['AROANEWCOMERROLE00004']));

    await handler({ Records: [record('r1', report('other'), 'AROAUNKNOWN000000005:x')] });

    expect(reads).toEqual([true]);
    expect(quarantined[0]?.reason).toContain('unauthenticated sender');
  });

  it('hands the batch back when the registry cannot be read, refusing nothing', async () => {
    const { handler, quarantined } = await setUp({ failReads: true });

    const response = await handler({ Records: [record('t1', report('checker'), `${CHECKER_ROLE}:fn`)] });

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 't1' }]);
    expect(quarantined).toEqual([]);
  });
});

describe('readSenderRules', () => {
  it('reads the engine role ids and the operators, and names a malformed id', () => {
    expect(
      readSenderRules({
        PLUGBOARD_COMMAND_SENDERS: `${ORCHESTRATOR_ROLE},AROASWEEPERROLE000006`,
        PLUGBOARD_OPERATOR_PRINCIPALS: '',
      }),
    ).toEqual({ engine: [ORCHESTRATOR_ROLE, 'AROASWEEPERROLE000006'], operators: [] });
    expect(() => readSenderRules({})).toThrow(/PLUGBOARD_COMMAND_SENDERS is not set/);
    expect(() => readSenderRules({ PLUGBOARD_COMMAND_SENDERS: 'arn:aws:iam::1:role/x' })).toThrow(
      /PLUGBOARD_COMMAND_SENDERS must list IAM unique ids.*"arn:aws:iam::1:role\/x"/,
    );
  });
});
