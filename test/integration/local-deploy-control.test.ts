/**
 * The control endpoint of a kept local cloud (local/control.ts) with its client (local/control-client.ts):
 * requests are authorized, bounded and validated, failures are JSON with hints; deploy creates, deploys
 * again as an update, rolls a failed deploy back; destroy removes a stack in reverse order, refuses
 * while its exports are imported, and says when there is nothing to destroy.
 */
import { DescribeEventBusCommand, DescribeRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlServer } from '../../local/control.js';
import { ControlClient, ControlError } from '../../local/control-client.js';
import type { LocalCloud } from '../../local/index.js';
import { CJS_HANDLERS, fixtureFunction, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
let local: LocalCloud;
let control: ControlServer;
let client: ControlClient;
let changes = 0;
let base = '';
let app = '';
let failing = '';

const BASE = {
  name: 'ctl-base',
  template: {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'ctl-base-queue' } },
      Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'ctl-bus' } },
      Rule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Name: 'ctl-rule',
          EventBusName: { Ref: 'Bus' },
          EventPattern: { source: ['ctl'] },
          Targets: [{ Id: 'queue', Arn: { 'Fn::GetAtt': ['Queue', 'Arn'] } }],
        },
      },
    },
    Outputs: {
      Name: { Value: 'world', Export: { Name: 'ctl-name' } },
      QueueUrl: { Value: { Ref: 'Queue' }, Export: { Name: 'ctl-queue-url' } },
    },
  },
};

const APP = {
  name: 'ctl-app',
  assets: { 'handlers.zip': CJS_HANDLERS },
  template: {
    Resources: {
      Provider: fixtureFunction('index.provider', { FunctionName: 'ctl-app-provider' }),
      Greeting: {
        Type: 'Custom::Greeting',
        Properties: {
          ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] },
          Name: { 'Fn::ImportValue': 'ctl-name' },
        },
      },
    },
  },
};

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint);
  control = await ControlServer.start({
    cloud: local,
    onChange: () => {
      changes += 1;
    },
  });
  client = new ControlClient(control.state);
  base = await writeAssembly([BASE]);
  app = await writeAssembly([APP]);
  failing = await writeAssembly([
    {
      name: 'ctl-failing',
      assets: { 'handlers.zip': CJS_HANDLERS },
      template: {
        Resources: {
          Provider: fixtureFunction('index.provider', { FunctionName: 'ctl-failing-provider' }),
          Refused: {
            Type: 'Custom::Greeting',
            Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] }, Name: 'x', Fail: 'true' },
          },
        },
      },
    },
  ]);
}, 120_000);

afterAll(async () => {
  await control?.close();
  await local?.stop();
});

/** A raw request, to see what a client that is not ours gets. */
async function raw(path: string, init: RequestInit = {}, token: string | null = control.token) {
  const response = await fetch(`${control.url}${path}`, {
    ...init,
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
  });
  return {
    status: response.status,
    body: (await response.json()) as { ok: boolean; error?: Record<string, string> },
  };
}

describe('the control endpoint refuses what it should', () => {
  it('listens on loopback and refuses a request without the bearer token, or with another one', async () => {
    expect(control.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(control.token.length).toBeGreaterThanOrEqual(32);

    const none = await raw('/v1/stacks', {}, null);
    const wrong = await raw('/v1/stacks', {}, 'x'.repeat(control.token.length));

    expect(none).toMatchObject({ status: 401, body: { ok: false, error: { type: 'Unauthorized' } } });
    expect(none.body.error?.hint).toContain('npm start -- --keep');
    expect(wrong.status).toBe(401);
  });

  it('answers invalid, oversized and unknown requests with a JSON error and a hint', async () => {
    const post = (path: string, body: string) =>
      raw(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

    const notJson = await post('/v1/deploy', '{nope');
    const relative = await post('/v1/deploy', JSON.stringify({ assembly: 'cdk.out' }));
    const extra = await post('/v1/destroy', JSON.stringify({ stack: 'a', force: true }));
    const huge = await post('/v1/deploy', JSON.stringify({ assembly: `/${'a'.repeat(20_000)}` }));
    const unknown = await raw('/v1/nothing');
    const method = await raw('/v1/deploy');

    expect(notJson).toMatchObject({ status: 400, body: { error: { type: 'InvalidRequest' } } });
    expect(notJson.body.error?.hint).toContain('{"assembly":');
    expect(relative.status).toBe(400);
    expect(relative.body.error?.message).toMatch(/assembly: must be an absolute path/);
    expect(extra.status).toBe(400);
    expect(huge).toMatchObject({ status: 413, body: { error: { type: 'RequestTooLarge' } } });
    expect(unknown).toMatchObject({ status: 404, body: { error: { type: 'NotFound' } } });
    expect(unknown.body.error?.hint).toContain('/v1/deploy');
    expect(method).toMatchObject({ status: 405, body: { error: { type: 'MethodNotAllowed' } } });
  });

  it('fails a deploy whose import is missing, naming the export and the exports there are', async () => {
    const failure = client.deploy({ assembly: app });

    await expect(failure).rejects.toThrow(ControlError);
    await expect(failure).rejects.toMatchObject({ type: 'MissingImportError' });
    await expect(failure).rejects.toThrow(/"ctl-name" is not exported .*Exports in this local cloud: none\./);
  });
});

describe('deploy and destroy through the control endpoint', () => {
  it('creates stacks, then updates one deployed again, and reports each change', async () => {
    const before = changes;

    const first = await client.deploy({ assembly: base });
    const second = await client.deploy({ assembly: app });
    const again = await client.deploy({ assembly: app });

    expect(first.stacks).toEqual([
      expect.objectContaining({
        stackName: 'ctl-base',
        action: 'created',
        exports: expect.objectContaining({ 'ctl-name': 'world' }),
      }),
    ]);
    expect(second.stacks).toEqual([
      expect.objectContaining({ stackName: 'ctl-app', action: 'created', functions: ['ctl-app-provider'] }),
    ]);
    expect(again.stacks).toEqual([expect.objectContaining({ stackName: 'ctl-app', action: 'updated' })]);
    expect(local.deployer.stack('ctl-app')?.resources.get('Greeting')?.attributes).toMatchObject({
      Greeting: 'hello world',
    });
    expect(changes - before).toBe(3);
    expect((await client.stacks()).stacks.map((stack) => stack.stackName)).toEqual(['ctl-base', 'ctl-app']);
  });

  it('refuses to destroy a stack whose export another stack imports', async () => {
    const failure = client.destroy('ctl-base');

    await expect(failure).rejects.toMatchObject({ type: 'ExportInUseError' });
    await expect(failure).rejects.toThrow(/export "ctl-name" is imported by ctl-app/);
    expect(local.deployer.stack('ctl-base')).toBeDefined();
  });

  it('destroys a stack: its function stops, its exports go; destroying it again says so', async () => {
    const destroyed = await client.destroy('ctl-app');
    const again = await client.destroy('ctl-app');

    expect(destroyed).toMatchObject({
      stackName: 'ctl-app',
      destroyed: true,
      resources: 2,
      remaining: ['ctl-base'],
    });
    expect(local.runner.has('ctl-app-provider')).toBe(false);
    expect(again).toMatchObject({ destroyed: false, remaining: ['ctl-base'] });
  });

  it('deletes the queues, rules and buses of a destroyed stack and forgets its exports', async () => {
    const events = new EventBridgeClient(motoClientConfig(moto.endpoint));
    await events.send(new DescribeRuleCommand({ Name: 'ctl-rule', EventBusName: 'ctl-bus' }));

    const destroyed = await client.destroy('ctl-base');
    const sqs = new SQSClient(motoClientConfig(moto.endpoint));

    expect(destroyed).toMatchObject({
      destroyed: true,
      exports: ['ctl-name', 'ctl-queue-url'],
      remaining: [],
    });
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'ctl-base-queue' }))).rejects.toThrow();
    await expect(
      events.send(new DescribeRuleCommand({ Name: 'ctl-rule', EventBusName: 'ctl-bus' })),
    ).rejects.toThrow();
    await expect(events.send(new DescribeEventBusCommand({ Name: 'ctl-bus' }))).rejects.toThrow();
    expect(local.exports()['ctl-name']).toBeUndefined();
    sqs.destroy();
    events.destroy();
  });

  it('rolls a failed deploy back, so that the same stack can be deployed again', async () => {
    const first = client.deploy({ assembly: failing });
    await expect(first).rejects.toMatchObject({ type: 'CustomResourceError' });
    expect(local.runner.has('ctl-failing-provider')).toBe(false);

    // Deployed again, it fails for the same reason, not because the function is still registered.
    await expect(client.deploy({ assembly: failing })).rejects.toThrow(/refusing x/);
  });
});
