/**
 * IAM enforcement on the real Plugboard app and the example plugins (the same assemblies as
 * `npm start`): a run completes with no request denied, each plugin's report carries its role id as
 * `SenderId`, and from outside, with a plugin's own credentials, the plugin cannot write the status
 * table, publish to a stage topic or send to another stage's inbox, while what it is granted passes.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxiedRequest } from '../../local/aws-proxy.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import type { AccessDenial } from '../../local/index.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

let env: DemoEnvironment;
const denials: AccessDenial[] = [];
/** `SenderId`s of messages received from each queue, by queue name. */
const senders = new Map<string, Set<string>>();

function collectSenders(request: ProxiedRequest): void {
  if (request.service !== 'sqs' || request.operation !== 'ReceiveMessage' || request.status !== 200) return;
  const queueUrl = String((JSON.parse(request.requestBody) as { QueueUrl?: string }).QueueUrl);
  const name = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  const messages = (
    JSON.parse(request.responseBody) as { Messages?: { Attributes?: { SenderId?: string } }[] }
  ).Messages;
  for (const message of messages ?? []) {
    const sender = message.Attributes?.SenderId;
    if (sender === undefined) continue;
    const set = senders.get(name) ?? new Set<string>();
    set.add(sender);
    senders.set(name, set);
  }
}

beforeAll(async () => {
  env = await DemoEnvironment.start(synthDemo({ stage: E2E_STAGE }), {
    stage: E2E_STAGE,
    endpoint: moto.endpoint,
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
    onRequest: collectSenders,
    onAccessDenied: (denial) => denials.push(denial),
  });
}, 600_000);

afterAll(async () => {
  await env?.stop();
});

/** The hosted function whose logical name starts with `prefix` (CDK generates the rest). */
function functionNamed(prefix: string): string {
  const found = env.local.runner.functions().find((definition) => definition.name.includes(prefix));
  if (found === undefined) throw new Error(`no hosted function contains ${prefix}`);
  return found.name;
}

describe('IAM enforcement on the Plugboard app', () => {
  it('runs an order to Complete with no request denied, each report signed by its plugin role', async () => {
    await env.startRun({ uid: 'iam-happy', metadata: { giftWrap: true } });
    const snapshot = await env.waitForRun('iam-happy', { timeoutMs: 240_000 });
    expect(snapshot.run.state).toBe('Complete');
    expect(denials.map((denial) => denial.reason)).toEqual([]);
    const validate = functionNamed('validateorderfn');
    const role = env.local.identityOf(validate);
    expect(role.roleArn).toMatch(
      /^arn:aws:iam::123456789012:role\/plugboard-local-example-plugins-validateorderfnServ/,
    );
    expect([...(senders.get('plugboard-local-intake-pre-inbox') ?? [])]).toContain(
      `${role.roleId}:${validate}`,
    );
  }, 300_000);

  it("refuses a plugin's role what it must not do, and lets through what it is granted", async () => {
    const validate = functionNamed('validateorderfn');
    const config = {
      ...env.local.clientConfig(),
      credentials: env.local.credentialsOf(validate),
      maxAttempts: 1,
    };
    const exports = env.local.exports();
    const table = String(exports['plugboard-local-status-table-name']);
    const dynamodb = new DynamoDBClient(config);
    const sns = new SNSClient(config);
    const sqs = new SQSClient(config);
    const before = denials.length;
    try {
      await expect(
        dynamodb.send(
          new PutItemCommand({ TableName: table, Item: { pk: { S: 'RUN#forged' }, sk: { S: 'RUN' } } }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
      await expect(
        sns.send(
          new PublishCommand({
            TopicArn: String(exports['plugboard-local-intake-pre-processing']),
            Message: '{}',
          }),
        ),
      ).rejects.toMatchObject({ name: 'AuthorizationErrorException', $metadata: { httpStatusCode: 403 } });
      await expect(
        sqs.send(
          new SendMessageCommand({
            QueueUrl: String(exports['plugboard-local-fulfilment-post-inbox-url']),
            MessageBody: '{}',
          }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
      expect(denials.slice(before).map((denial) => denial.principal?.roleArn)).toEqual(
        Array(3).fill(env.local.identityOf(validate).roleArn),
      );
      const read = await dynamodb.send(
        new GetItemCommand({ TableName: table, Key: { pk: { S: 'RUN#none' }, sk: { S: 'RUN' } } }),
      );
      expect(read.Item).toBeUndefined();
    } finally {
      dynamodb.destroy();
      sns.destroy();
      sqs.destroy();
    }
  }, 60_000);
});
