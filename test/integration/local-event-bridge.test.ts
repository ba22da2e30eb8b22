/**
 * EventBridge on the local cloud: an `AWS::Events::EventBus` and an event-pattern rule with an SQS
 * target are created on moto's events backend; PutEvents from a hosted function is authorized by
 * local IAM per entry (bus ARN, `events:source`), so a function without the grant — or with the grant
 * but another source — is refused as on AWS, and what is allowed reaches the rule's queue in order.
 */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../local/index.js';
import { field, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

/** Puts the events its invocation names on a bus, as the orchestrators' publisher does, and reports. */
const PUTTER_CODE = `
const { EventBridgeClient, PutEventsCommand } = require('@aws-sdk/client-eventbridge');
const events = new EventBridgeClient({});
exports.handler = async (event) => {
  try {
    const answer = await events.send(new PutEventsCommand({
      Entries: event.uids.map((uid) => ({
        EventBusName: event.bus,
        Source: event.source,
        DetailType: 'Plugboard Run Started',
        Detail: JSON.stringify({ workflow: 'order', uid }),
      })),
    }));
    return { ok: true, failed: answer.FailedEntryCount };
  } catch (error) {
    return { ok: false, name: error.name, status: error.$metadata && error.$metadata.httpStatusCode, message: error.message };
  }
};
`;

const lambdaRole = (policies: unknown[] = []) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    },
    Policies: policies,
  },
});

const putter = (name: string, role: string) => ({
  Type: 'AWS::Lambda::Function',
  Properties: {
    FunctionName: name,
    Runtime: 'nodejs20.x',
    Handler: 'index.handler',
    Timeout: 30,
    Role: { 'Fn::GetAtt': [role, 'Arn'] },
    Code: { ZipFile: PUTTER_CODE },
  },
});

const template = {
  Resources: {
    Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'local-events' } },
    RunEvents: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'local-run-events' } },
    OtherEvents: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'local-other-events' } },
    PlugboardRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Bus' },
        EventPattern: { source: ['plugboard.plugboard'], 'detail-type': ['Plugboard Run Started'] },
        State: 'ENABLED',
        Targets: [{ Id: 'Queue', Arn: { 'Fn::GetAtt': ['RunEvents', 'Arn'] } }],
      },
    },
    OtherRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { 'Fn::GetAtt': ['Bus', 'Arn'] },
        EventPattern: { source: ['someone.else'] },
        Targets: [{ Id: 'Queue', Arn: { 'Fn::GetAtt': ['OtherEvents', 'Arn'] } }],
      },
    },
    GrantedRole: lambdaRole([
      {
        PolicyName: 'put-lifecycle-events',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'events:PutEvents',
              Resource: { 'Fn::GetAtt': ['Bus', 'Arn'] },
              Condition: {
                'ForAllValues:StringEquals': { 'events:source': ['plugboard.plugboard'] },
                Null: { 'events:source': 'false' },
              },
            },
          ],
        },
      },
    ]),
    UngrantedRole: lambdaRole(),
    Granted: putter('events-granted', 'GrantedRole'),
    Ungranted: putter('events-ungranted', 'UngrantedRole'),
  },
};

let local: LocalCloud;
let sqs: SQSClient;
const denials: string[] = [];

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, { onAccessDenied: ({ reason }) => denials.push(reason) });
  await local.deploy(await writeAssembly([{ name: 'events-fixture', template }]));
  sqs = new SQSClient(local.clientConfig());
}, 120_000);

afterAll(async () => {
  sqs?.destroy();
  await local?.stop();
});

const queueUrl = (name: string) => `${local.endpoint}/123456789012/${name}`;

async function receiveAll(name: string): Promise<unknown[]> {
  const bodies: unknown[] = [];
  for (;;) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl(name), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if ((answer.Messages ?? []).length === 0) return bodies;
    bodies.push(...(answer.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}')));
  }
}

describe('EventBridge on the local cloud', () => {
  it('creates the bus and its event-pattern rules on moto, and the topology check accepts them', async () => {
    const resources = local.deployer.stack('events-fixture')?.resources;
    expect(resources?.get('Bus')?.attributes).toEqual({
      Arn: 'arn:aws:events:us-east-1:123456789012:event-bus/local-events',
      Name: 'local-events',
    });
    expect(await local.checkTopology()).toEqual([]);
  });

  it('refuses PutEvents from a function without the grant, as EventBridge does', async () => {
    const result = await local.invoke('events-ungranted', {
      bus: 'local-events',
      source: 'plugboard.plugboard',
      uids: ['o-1'],
    });

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const role = local.identityOf('events-ungranted');
    expect(result.payload).toMatchObject({ ok: false, name: 'AccessDeniedException' });
    expect(field(result.payload, 'message')).toContain(
      `User: ${role.arn} is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/local-events`,
    );
    expect(denials.some((reason) => reason.includes(role.arn))).toBe(true);
    expect(await receiveAll('local-run-events')).toEqual([]);
  }, 60_000);

  it('refuses a granted function that puts events with a source its grant does not name', async () => {
    const result = await local.invoke('events-granted', {
      bus: 'local-events',
      source: 'someone.else',
      uids: ['o-1'],
    });

    expect(result.ok && result.payload).toMatchObject({ ok: false, name: 'AccessDeniedException' });
    expect(await receiveAll('local-other-events')).toEqual([]);
  }, 60_000);

  it('refuses a granted function on another bus (the grant names one bus)', async () => {
    const result = await local.invoke('events-granted', {
      bus: 'default',
      source: 'plugboard.plugboard',
      uids: ['o-1'],
    });

    expect(result.ok && result.payload).toMatchObject({ ok: false, name: 'AccessDeniedException' });
  }, 60_000);

  it("delivers the granted function's events to the matching rule's queue, in the order put", async () => {
    const result = await local.invoke('events-granted', {
      bus: 'local-events',
      source: 'plugboard.plugboard',
      uids: ['o-1', 'o-2', 'o-3'],
    });

    expect(result.ok && result.payload).toEqual({ ok: true, failed: 0 });
    const bodies = (await receiveAll('local-run-events')) as {
      source: string;
      'detail-type': string;
      detail: { uid: string };
    }[];
    expect(bodies.map((b) => [b.source, b['detail-type'], b.detail.uid])).toEqual([
      ['plugboard.plugboard', 'Plugboard Run Started', 'o-1'],
      ['plugboard.plugboard', 'Plugboard Run Started', 'o-2'],
      ['plugboard.plugboard', 'Plugboard Run Started', 'o-3'],
    ]);
    expect(await receiveAll('local-other-events')).toEqual([]);
  }, 60_000);
});
