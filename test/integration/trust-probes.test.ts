/**
 * The six probes of issue 15, through the real handlers on the local cloud with IAM enforced and real
 * `SenderId`s (the same assemblies as `npm start`). Each forged message is sent with a plugin's own
 * role credentials — what a plugin's code can do — and each must be refused: dead-lettered with the
 * reason `unauthenticated sender: …`, and the run ends exactly as the genuine reports make it end.
 * The sixth probe is another stack's registration of a taken plugin, through the registrar function.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../lambdas/adapters/ddb-client.js';
import { DynamoRegistry } from '../../lambdas/adapters/dynamo-registry.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import type { AccessDenial } from '../../local/index.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const PREFIX = `plugboard-${E2E_STAGE}`;
const UID = 'probe-order-1';

let env: DemoEnvironment;
const denials: AccessDenial[] = [];

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
    onAccessDenied: (denial) => denials.push(denial),
  });
}, 600_000);

afterAll(async () => {
  await env?.stop();
});

/** The hosted function whose name contains `fragment` (CDK generates the rest). */
function functionNamed(fragment: string): string {
  const found = env.local.runner
    .functions()
    .find((definition) => definition.name.toLowerCase().includes(fragment));
  if (found === undefined) throw new Error(`no hosted function contains ${fragment}`);
  return found.name;
}

/** An SQS client acting as the hosted function `name` (its role's credentials). */
function sqsAs(name: string): SQSClient {
  return new SQSClient({
    ...env.local.clientConfig(),
    credentials: env.local.credentialsOf(name),
    maxAttempts: 1,
  });
}

const inboxUrl = (activity: string, stage: string) =>
  String(env.local.exports()[`${PREFIX}-${activity}-${stage}-inbox-url`]);

const envelope = (activity: string, stage: string) => ({
  schemaVersion: 1,
  workflow: 'order',
  uid: UID,
  generation: 1,
  activity,
  stage,
});

const forgedReport = (plugin: string, fields: Record<string, unknown>) => ({
  ...envelope('fulfilment', 'parallel'),
  kind: 'report',
  plugin,
  attempt: 1,
  reportedAt: new Date().toISOString(),
  ...fields,
});

/** Every message in a dead-letter queue, with its `reason` attribute, read until the queue is empty. */
async function deadLetters(queueName: string, expected: number, timeoutMs = 60_000) {
  const sqs = new SQSClient(env.local.clientConfig());
  const url = `${inboxUrl('fulfilment', 'parallel').slice(0, inboxUrl('fulfilment', 'parallel').lastIndexOf('/'))}/${queueName}`;
  const found: { body: string; reason: string }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (found.length < expected && Date.now() < deadline) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 600,
        MessageAttributeNames: ['All'],
      }),
    );
    for (const message of answer.Messages ?? []) {
      found.push({ body: message.Body ?? '', reason: message.MessageAttributes?.reason?.StringValue ?? '' });
    }
  }
  return found;
}

describe('trust probes (issue 15): a plugin can speak only for itself', () => {
  it('refuses forged reports and commands from plugin roles, dead-letters each with its reason, and the run ends as the genuine reports make it', async () => {
    const giftWrap = functionNamed('giftwrap');
    const chargePayment = functionNamed('chargepayment');
    const giftWrapId = env.local.identityOf(giftWrap).userId;
    const chargePaymentId = env.local.identityOf(chargePayment).userId;
    // gift-wrap is filtered out of this run (no giftWrap metadata): probe 4 is one of its forgeries.
    await env.startRun({ uid: UID, metadata: {} });

    const asGiftWrap = sqsAs(giftWrap);
    const asChargePayment = sqsAs(chargePayment);
    const parallel = inboxUrl('fulfilment', 'parallel');
    const probes = [
      // 1. an optional plugin sends Complete for a mandatory one, with a forged result
      {
        client: asGiftWrap,
        body: forgedReport('charge-payment', { status: 'Complete', result: { charged: 0 } }),
      },
      // 2. a forged final Error for another plugin
      {
        client: asChargePayment,
        body: forgedReport('reserve-stock', { status: 'Error', retryable: false, message: 'forged' }),
      },
      // 3. a forged start-stage command (the parallel stage while the run is still before it)
      { client: asChargePayment, body: { ...envelope('fulfilment', 'parallel'), kind: 'start-stage' } },
      // 4. a plugin filtered out of the run (gift-wrap: no giftWrap metadata) completes another plugin of the run
      {
        client: asGiftWrap,
        body: forgedReport('reserve-stock', { status: 'Complete', result: { reserved: 0 } }),
      },
      // 5. a forged retry command that would skip the back-off
      {
        client: asChargePayment,
        body: {
          ...envelope('fulfilment', 'parallel'),
          kind: 'retry',
          plugins: ['charge-payment'],
          attempt: 1,
        },
      },
    ];
    for (const probe of probes) {
      await probe.client.send(
        new SendMessageCommand({ QueueUrl: parallel, MessageBody: JSON.stringify(probe.body) }),
      );
    }

    const snapshot = await env.waitForRun(UID, { timeoutMs: 240_000 });
    const parallelDlq = await deadLetters(`${PREFIX}-fulfilment-parallel-inbox-dlq`, probes.length);

    // Nothing changed: the run completed on the genuine reports, with the genuine results.
    expect(snapshot.run.state).toBe('Complete');
    const plugin = (name: string) => snapshot.plugins.find((p) => p.plugin === name);
    expect(plugin('charge-payment')?.state).toBe('Complete');
    expect(plugin('charge-payment')?.result).not.toEqual({ charged: 0 });
    expect(plugin('reserve-stock')?.result).not.toEqual({ reserved: 0 });
    expect(plugin('reserve-stock')?.state).toBe('Complete');
    expect(plugin('ship-order')?.state).toBe('Complete');
    expect(plugin('gift-wrap')?.state ?? 'Do Not Run').toBe('Do Not Run');
    expect(denials.map((denial) => denial.reason)).toEqual([]);

    // Each forgery is in its inbox's dead-letter queue, with a reason naming the sender and no payload.
    const reasons = parallelDlq.map((m) => m.reason).sort();
    expect(reasons).toEqual(
      [
        `unauthenticated sender: "${giftWrapId}" is not a registered principal of plugin "charge-payment" in fulfilment/parallel`,
        `unauthenticated sender: "${chargePaymentId}" is not a registered principal of plugin "reserve-stock" in fulfilment/parallel`,
        `unauthenticated sender: "${chargePaymentId}" may not send start-stage commands to fulfilment/parallel: only the engine's roles and operators may`,
        `unauthenticated sender: "${giftWrapId}" is not a registered principal of plugin "reserve-stock" in fulfilment/parallel`,
        `unauthenticated sender: "${chargePaymentId}" may not send retry commands to fulfilment/parallel: only the engine's roles (the stage orchestrator and the sweeper) may`,
      ].sort(),
    );
    for (const message of parallelDlq) {
      expect(message.reason).not.toContain('charged');
      expect(message.reason).not.toContain('forged');
    }
  }, 420_000);

  it('6. refuses another stack’s registration of a taken plugin, naming the owner, and its delete leaves the registration', async () => {
    const responses: { Status: string; Reason?: string; PhysicalResourceId: string }[] = [];
    const server: Server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      request.on('end', () => {
        responses.push(JSON.parse(text) as (typeof responses)[number]);
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const registrar = functionNamed('registrar');
    const registry = new DynamoRegistry({
      tableName: String(env.local.exports()[`${PREFIX}-status-table-name`]),
      client: createDocumentClient(env.local.clientConfig()),
    });
    const genuine = (await registry.list('fulfilment', 'parallel')).find(
      (r) => r.info.name === 'charge-payment',
    );
    const otherStack = 'arn:aws:cloudformation:us-east-1:123456789012:stack/other-team-plugins/0000-forged';
    const event = (requestType: 'Create' | 'Delete', physicalId?: string) => ({
      RequestType: requestType,
      ServiceToken: 'registrar',
      ResponseURL: `http://127.0.0.1:${port}/response`,
      StackId: otherStack,
      RequestId: `probe-6-${requestType}`,
      LogicalResourceId: 'ChargePaymentAgain',
      ResourceType: 'Custom::PlugboardPluginRegistration',
      ...(physicalId ? { PhysicalResourceId: physicalId } : {}),
      ResourceProperties: {
        ServiceToken: 'registrar',
        Activity: 'fulfilment',
        Stage: 'parallel',
        Registration: JSON.stringify({
          activity: 'fulfilment',
          stage: 'parallel',
          info: { name: 'charge-payment', default: { mandatory: false } },
        }),
      },
    });
    try {
      await env.local.invoke(registrar, event('Create'));
      await env.local.invoke(
        registrar,
        event('Delete', 'plugboard-registration:fulfilment:parallel:charge-payment'),
      );
    } finally {
      server.close();
    }

    expect(genuine?.owner).toMatch(/stack\/plugboard-local-example-plugins/);
    expect(responses[0]).toMatchObject({ Status: 'FAILED' });
    expect(responses[0]?.Reason).toContain(`by stack ${genuine?.owner}`);
    expect(responses[1]).toMatchObject({ Status: 'SUCCESS' });
    const after = (await registry.list('fulfilment', 'parallel')).find(
      (r) => r.info.name === 'charge-payment',
    );
    expect(after).toEqual(genuine);
    expect(after?.info.default.mandatory).toBe(true);
  }, 120_000);
});
