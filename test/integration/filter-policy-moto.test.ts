/**
 * Agreement proof: every case of the shared filter-policy table goes through moto's real SNS→SQS
 * delivery, and moto's outcome must equal both the documented AWS outcome (`expected`) and the
 * engine's own evaluation. Cases where moto is known to differ from AWS assert moto's actual outcome
 * instead, so a moto upgrade that fixes (or changes) them fails here and gets noticed.
 *
 * Each case gets its own topic with two raw-delivery SQS subscriptions: one carrying the case's
 * filter policy, one without a filter (the control). moto delivers synchronously inside Publish, so
 * a ReceiveMessage with WaitTimeSeconds 0 right after Publish sees the message; the control queue
 * proves that for every single case (an empty filtered queue means "filtered out", not "not yet").
 */
import { randomUUID } from 'node:crypto';
import {
  CreateTopicCommand,
  type MessageAttributeValue,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { matchesFilterPolicy } from '../../lambdas/engine/filter-policy.js';
import {
  type MotoOutcome as CaseMotoOutcome,
  FILTER_POLICY_CASES,
  type FilterPolicyCase,
} from '../fixtures/filter-policy-cases.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();

type MotoOutcome =
  | {
      readonly kind: 'published';
      readonly delivered: boolean;
      readonly controlDelivered: boolean;
      readonly deliveredBody: string | undefined;
    }
  | { readonly kind: 'rejected'; readonly error: string }
  | { readonly kind: 'publish-failed'; readonly error: string };

const outcomes = new Map<string, MotoOutcome>();

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return `${error.name}${status ? ` (HTTP ${status})` : ''}: ${error.message.split('\n')[0]}`;
}

async function createQueue(sqs: SQSClient, name: string): Promise<{ url: string; arn: string }> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const url = created.QueueUrl;
  if (url === undefined) throw new Error(`moto returned no URL for queue ${name}`);
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = attributes.Attributes?.QueueArn;
  if (arn === undefined) throw new Error(`moto returned no ARN for queue ${name}`);
  return { url, arn };
}

async function receiveNow(sqs: SQSClient, url: string): Promise<string[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }),
  );
  return (received.Messages ?? []).map((message) => message.Body ?? '');
}

function publishAttributes(testCase: FilterPolicyCase): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(testCase.attributes).map(([name, attribute]) => [
      name,
      attribute.DataType === 'Binary'
        ? { DataType: attribute.DataType, BinaryValue: attribute.BinaryValue }
        : { DataType: attribute.DataType, StringValue: attribute.StringValue },
    ]),
  );
}

async function runOnMoto(
  sns: SNSClient,
  sqs: SQSClient,
  testCase: FilterPolicyCase,
  index: number,
): Promise<MotoOutcome> {
  const id = `fp${index}-${randomUUID().slice(0, 8)}`;
  const topic = await sns.send(new CreateTopicCommand({ Name: id }));
  const topicArn = topic.TopicArn;
  if (topicArn === undefined) throw new Error(`moto returned no ARN for topic ${id}`);
  const [filtered, control] = await Promise.all([
    createQueue(sqs, `${id}-filtered`),
    createQueue(sqs, `${id}-control`),
  ]);
  try {
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: filtered.arn,
        Attributes: {
          RawMessageDelivery: 'true',
          FilterPolicyScope: testCase.scope,
          FilterPolicy: JSON.stringify(testCase.policy),
        },
      }),
    );
  } catch (error) {
    return { kind: 'rejected', error: describeError(error) };
  }
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: control.arn,
      Attributes: { RawMessageDelivery: 'true' },
    }),
  );
  const attributes = publishAttributes(testCase);
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: testCase.body,
        ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
      }),
    );
  } catch (error) {
    return { kind: 'publish-failed', error: describeError(error) };
  }
  const [filteredBodies, controlBodies] = await Promise.all([
    receiveNow(sqs, filtered.url),
    receiveNow(sqs, control.url),
  ]);
  return {
    kind: 'published',
    delivered: filteredBodies.length > 0,
    controlDelivered: controlBodies.length === 1 && controlBodies[0] === testCase.body,
    deliveredBody: filteredBodies[0],
  };
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
) {
  for (let start = 0; start < items.length; start += limit) {
    await Promise.all(items.slice(start, start + limit).map((item, offset) => work(item, start + offset)));
  }
}

beforeAll(async () => {
  const config = motoClientConfig(moto.endpoint);
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  await inBatches(FILTER_POLICY_CASES, 8, async (testCase, index) => {
    outcomes.set(testCase.name, await runOnMoto(sns, sqs, testCase, index));
  });
  sns.destroy();
  sqs.destroy();
}, 180_000); // a topic and two queues per case: seconds, more on a loaded machine

function outcomeOf(testCase: FilterPolicyCase): MotoOutcome {
  const outcome = outcomes.get(testCase.name);
  if (outcome === undefined) throw new Error(`no moto outcome recorded for "${testCase.name}"`);
  return outcome;
}

function engineOutcome(testCase: FilterPolicyCase): boolean {
  return matchesFilterPolicy(testCase.policy, testCase.scope, {
    attributes: testCase.attributes,
    body: testCase.body,
  });
}

/** moto's behaviour in the table's terms; an unexpected error stays visible as its text. */
function motoBehaviour(outcome: MotoOutcome): CaseMotoOutcome | string {
  switch (outcome.kind) {
    case 'published':
      return outcome.delivered;
    case 'rejected':
      return outcome.error.includes('InvalidParameter') ? 'rejects-policy' : outcome.error;
    case 'publish-failed':
      return outcome.error.includes('HTTP 500') ? 'fails-publish' : outcome.error;
  }
}

const agreeing = FILTER_POLICY_CASES.filter((c) => c.motoDiverges === undefined);
const diverging = FILTER_POLICY_CASES.filter((c) => c.motoDiverges !== undefined);

describe('the filter-policy table against moto', () => {
  it('has unique case names', () => {
    expect(new Set(FILTER_POLICY_CASES.map((c) => c.name)).size).toBe(FILTER_POLICY_CASES.length);
  });

  it('delivers synchronously inside Publish: every unfiltered control queue holds the message at once', () => {
    const published = FILTER_POLICY_CASES.flatMap((c) => {
      const outcome = outcomeOf(c);
      return outcome.kind === 'published'
        ? [{ name: c.name, controlDelivered: outcome.controlDelivered }]
        : [];
    });
    expect(published.length).toBeGreaterThanOrEqual(agreeing.length);
    expect(published.filter((p) => !p.controlDelivered).map((p) => p.name)).toEqual([]);
  });

  it.each(agreeing.map((c) => [c.name, c] as const))(
    'moto, AWS and the engine agree: %s',
    (_name, testCase) => {
      const outcome = outcomeOf(testCase);
      expect(motoBehaviour(outcome)).toBe(testCase.expected);
      expect(engineOutcome(testCase)).toBe(testCase.expected);
      if (outcome.kind === 'published' && outcome.delivered)
        expect(outcome.deliveredBody).toBe(testCase.body);
    },
  );

  it.each(diverging.map((c) => [c.name, c] as const))(
    'moto differs from AWS, the engine keeps AWS: %s',
    (_name, testCase) => {
      expect(testCase.motoOutcome).toBeDefined();
      expect(testCase.motoOutcome).not.toBe(testCase.expected);
      expect(motoBehaviour(outcomeOf(testCase))).toBe(testCase.motoOutcome);
      expect(engineOutcome(testCase)).toBe(testCase.expected);
    },
  );
});
