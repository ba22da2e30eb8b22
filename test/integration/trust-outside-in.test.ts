/**
 * The trust boundary from outside (issue 15), as a plugin team would try it: the local cloud with
 * IAM enforced and its control endpoint (as `npm start -- --keep` runs it), a plugin's credentials
 * from `plugboard --local credentials <function> --json`, and then the AWS CLI (and the same calls
 * through the SDK, so the boundary is proven where the AWS CLI is not installed):
 *
 * - plugin A (gift-wrap) sends a final `Error` for plugin B (charge-payment) to the inbox: it is
 *   dead-lettered as `unauthenticated sender`, naming A's `SenderId` (its role id), and B is unchanged;
 * - plugin A writes the status table: AccessDenied (the table's resource policy);
 * - plugin A reads the plugin registry: AccessDenied (its read grant covers run partitions only).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLocalState } from '../../bin/cli/local-state.js';
import { ControlServer } from '../../local/control.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';
import { json, runCli } from './cli-harness.js';

const exec = promisify(execFile);
const moto = useMoto();
const PREFIX = `plugboard-${E2E_STAGE}`;
const UID = 'outside-in-1';
const HAS_AWS_CLI = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;
if (!HAS_AWS_CLI) {
  console.warn(
    'trust-outside-in: the AWS CLI (`aws`) is not on PATH: its part is skipped; the SDK part runs',
  );
}

let env: DemoEnvironment;
let control: ControlServer | undefined;
let workDir = '';
let cliEnv: Record<string, string> = {};

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly roleId: string;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'plugboard-outside-in-'));
  const statePath = join(workDir, 'local.json');
  cliEnv = { PLUGBOARD_LOCAL_STATE: statePath };
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
  });
  const cloud = env.local;
  let server: ControlServer | undefined;
  const writeState = () =>
    writeLocalState(statePath, {
      endpoint: cloud.endpoint,
      lambdaEndpoint: cloud.lambdaEndpoint,
      region: cloud.clientConfig().region,
      exports: cloud.exports(),
      ...(server !== undefined ? { control: server.state } : {}),
    });
  server = await ControlServer.start({ cloud, onChange: writeState });
  control = server;
  await writeState();
  await env.startRun({ uid: UID, metadata: {} });
  const snapshot = await env.waitForRun(UID, { timeoutMs: 240_000 });
  expect(snapshot.run.state).toBe('Complete');
}, 600_000);

afterAll(async () => {
  await control?.close();
  await env?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function functionNamed(fragment: string): string {
  const found = env.local.runner.functions().find((f) => f.name.toLowerCase().includes(fragment));
  if (found === undefined) throw new Error(`no hosted function contains ${fragment}`);
  return found.name;
}

/** A plugin's credentials as the CLI hands them out. */
async function credentialsOf(functionName: string): Promise<Credentials> {
  return json<Credentials>(await runCli(['--local', '--json', 'credentials', functionName], cliEnv));
}

const exportOf = (name: string) => String(env.local.exports()[name]);
const inboxUrl = () => exportOf(`${PREFIX}-fulfilment-parallel-inbox-url`);
const dlqUrl = () => `${inboxUrl()}-dlq`;
const tableName = () => exportOf(`${PREFIX}-status-table-name`);

/** A final Error for charge-payment, in the shape a plugin reports it (tagged by `tag`). */
const forgedError = (tag: string) =>
  JSON.stringify({
    schemaVersion: 1,
    workflow: 'order',
    uid: UID,
    generation: 1,
    activity: 'fulfilment',
    stage: 'parallel',
    kind: 'report',
    plugin: 'charge-payment',
    attempt: 1,
    reportedAt: new Date().toISOString(),
    status: 'Error',
    retryable: false,
    message: tag,
  });

/** Waits for `count` dead letters of the fulfilment parallel inbox; returns their reasons. */
async function deadLetterReasons(count: number): Promise<string[]> {
  const sqs = new SQSClient(env.local.clientConfig());
  const reasons: string[] = [];
  const deadline = Date.now() + 60_000;
  try {
    while (reasons.length < count && Date.now() < deadline) {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl(),
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 600,
          MessageAttributeNames: ['All'],
        }),
      );
      for (const message of answer.Messages ?? [])
        reasons.push(message.MessageAttributes?.reason?.StringValue ?? '');
    }
  } finally {
    sqs.destroy();
  }
  return reasons;
}

async function chargePaymentRecord(): Promise<unknown> {
  const snapshot = await env.waitForRun(UID, { timeoutMs: 10_000 });
  return snapshot.plugins.find((p) => p.plugin === 'charge-payment');
}

/** The AWS CLI acting with `credentials` against the local cloud. */
async function aws(
  credentials: Credentials,
  args: readonly string[],
): Promise<{ code: number; stderr: string }> {
  try {
    await exec('aws', [...args, '--endpoint-url', env.local.endpoint, '--output', 'json'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: workDir,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: credentials.sessionToken,
        AWS_DEFAULT_REGION: env.local.clientConfig().region,
        AWS_CONFIG_FILE: join(workDir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'none'),
      },
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    return {
      code: Number(Reflect.get(Object(error), 'code') ?? 1),
      stderr: String(Reflect.get(Object(error), 'stderr')),
    };
  }
}

describe('the trust boundary from outside, with plugboard --local credentials', () => {
  it('through the SDK: a Complete/Error for another plugin is dead-lettered naming the sender, table writes and registry reads are denied', async () => {
    const giftWrap = functionNamed('giftwrap');
    const own = await credentialsOf(giftWrap);
    expect(own.roleId).toBe(env.local.identityOf(giftWrap).roleId);
    const before = await chargePaymentRecord();
    const config = {
      ...env.local.clientConfig(),
      credentials: {
        accessKeyId: own.accessKeyId,
        secretAccessKey: own.secretAccessKey,
        sessionToken: own.sessionToken,
      },
      maxAttempts: 1,
    };
    const sqs = new SQSClient(config);
    const dynamodb = new DynamoDBClient(config);
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: inboxUrl(), MessageBody: forgedError('sdk') }));
      await expect(
        dynamodb.send(
          new PutItemCommand({
            TableName: tableName(),
            Item: { pk: { S: `RUN#order#${UID}` }, sk: { S: 'RUN' } },
          }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(
        dynamodb.send(
          new GetItemCommand({
            TableName: tableName(),
            Key: { pk: { S: 'REG#fulfilment#parallel' }, sk: { S: 'charge-payment' } },
          }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    } finally {
      sqs.destroy();
      dynamodb.destroy();
    }
    expect(await deadLetterReasons(1)).toEqual([
      `unauthenticated sender: "${own.roleId}:${giftWrap}" is not a registered principal of plugin "charge-payment" in fulfilment/parallel`,
    ]);
    expect(await chargePaymentRecord()).toEqual(before);
  }, 300_000);

  it.skipIf(!HAS_AWS_CLI)(
    'through the AWS CLI (skipped when `aws` is not on PATH): the same three refusals',
    async () => {
      const giftWrap = functionNamed('giftwrap');
      const own = await credentialsOf(giftWrap);
      const before = await chargePaymentRecord();
      const sent = await aws(own, [
        'sqs',
        'send-message',
        '--queue-url',
        inboxUrl(),
        '--message-body',
        forgedError('cli'),
      ]);
      expect(sent, sent.stderr).toMatchObject({ code: 0 });
      const put = await aws(own, [
        'dynamodb',
        'put-item',
        '--table-name',
        tableName(),
        '--item',
        JSON.stringify({ pk: { S: `RUN#order#${UID}` }, sk: { S: 'RUN' } }),
      ]);
      expect(put.code).not.toBe(0);
      expect(put.stderr).toMatch(/AccessDenied.*explicit deny in a resource-based policy/s);
      const read = await aws(own, [
        'dynamodb',
        'get-item',
        '--table-name',
        tableName(),
        '--key',
        JSON.stringify({ pk: { S: 'REG#fulfilment#parallel' }, sk: { S: 'charge-payment' } }),
      ]);
      expect(read.code).not.toBe(0);
      expect(read.stderr).toMatch(/AccessDenied/);
      expect(await deadLetterReasons(1)).toEqual([
        `unauthenticated sender: "${own.roleId}:${giftWrap}" is not a registered principal of plugin "charge-payment" in fulfilment/parallel`,
      ]);
      expect(await chargePaymentRecord()).toEqual(before);
    },
    300_000,
  );
});
