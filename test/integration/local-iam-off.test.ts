/**
 * The local cloud with IAM switched off (`iam: false`, as `npm start -- --no-iam`): every call is
 * allowed, but every hosted function still acts as its own role, so a queue message still carries its
 * sender's role id as `SenderId` (the engine authenticates plugin reports by it, ADR 0008).
 */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../local/index.js';
import { field, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

const CODE = `
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
exports.handler = async (event) => {
  const outcomes = {};
  const calls = {
    putItem: () => new DynamoDBClient({}).send(new PutItemCommand({ TableName: 'off-status', Item: { pk: { S: 'RUN#1' }, sk: { S: 'RUN' } } })),
    send: () => new SQSClient({}).send(new SendMessageCommand({ QueueUrl: event.inbox, MessageBody: 'report' })),
  };
  for (const [name, call] of Object.entries(calls)) {
    try { await call(); outcomes[name] = { ok: true }; }
    catch (error) { outcomes[name] = { ok: false, name: error.name }; }
  }
  return outcomes;
};
`;

const template = {
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'off-status',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      },
    },
    Inbox: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'off-inbox' } },
    // A role that grants nothing: with IAM on, both calls would be denied.
    PluginRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    },
    PluginFunction: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: 'off-plugin',
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Timeout: 30,
        Role: { 'Fn::GetAtt': ['PluginRole', 'Arn'] },
        Code: { ZipFile: CODE },
      },
    },
  },
};

let local: LocalCloud;
let inbox: string;

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, { iam: false });
  await local.deploy(await writeAssembly([{ name: 'iam-off-fixture', template }]));
  inbox = String(local.deployer.stack('iam-off-fixture')?.resources.get('Inbox')?.physicalId);
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

describe('the local cloud with IAM off', () => {
  it('allows every call, and a message still carries its sending role id as SenderId', async () => {
    const result = await local.invoke('off-plugin', { inbox });

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(field(result.payload, 'putItem')).toEqual({ ok: true });
    expect(field(result.payload, 'send')).toEqual({ ok: true });
    const role = local.identityOf('off-plugin');
    expect(role.roleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    const admin = new SQSClient(local.clientConfig());
    try {
      const received = await admin.send(
        new ReceiveMessageCommand({
          QueueUrl: inbox,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['SenderId'],
        }),
      );
      expect(received.Messages?.map((m) => m.Attributes?.SenderId)).toEqual([`${role.roleId}:off-plugin`]);
    } finally {
      admin.destroy();
    }
  }, 60_000);
});
