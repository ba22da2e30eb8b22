/**
 * IAM enforcement of the local cloud (local/iam): a hosted function acts as its own role, a call its
 * policies do not grant fails with the error the SDK throws on AWS, an allowed call passes, SQS
 * messages carry the sender's role id as `SenderId`, and unknown credentials are refused.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCloud } from '../../local/index.js';
import { field, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

/** A plugin-like function: tries each call its event names and reports what the SDK threw. */
const PLUGIN_CODE = `
const { DynamoDBClient, GetItemCommand, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const { CloudWatchClient, PutMetricDataCommand } = require('@aws-sdk/client-cloudwatch');
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const dynamodb = new DynamoDBClient({});
const sns = new SNSClient({});
const sqs = new SQSClient({});
const cloudwatch = new CloudWatchClient({});
const lambda = new LambdaClient({});
const metric = (namespace) =>
  cloudwatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: [{ MetricName: 'reports', Value: 1 }] }));
const commands = {
  getItem: (e) => dynamodb.send(new GetItemCommand({ TableName: e.table, Key: { pk: { S: 'RUN#1' }, sk: { S: 'RUN' } } })),
  putItem: (e) => dynamodb.send(new PutItemCommand({ TableName: e.table, Item: { pk: { S: 'RUN#1' }, sk: { S: 'RUN' } } })),
  publish: (e) => sns.send(new PublishCommand({ TopicArn: e.topic, Message: 'forged' })),
  sendOwn: (e) => sqs.send(new SendMessageCommand({ QueueUrl: e.ownInbox, MessageBody: 'report' })),
  sendOther: (e) => sqs.send(new SendMessageCommand({ QueueUrl: e.otherInbox, MessageBody: 'forged' })),
  ownMetric: () => metric('Plugin'),
  otherMetric: () => metric('Plugboard'),
  invokeOther: () => lambda.send(new InvokeCommand({ FunctionName: 'iam-other', Payload: '{}' })),
  publishEncrypted: (e) => sns.send(new PublishCommand({ TopicArn: e.encryptedTopic, Message: 'x' })),
};
exports.handler = async (event) => {
  const outcomes = {};
  for (const name of event.calls) {
    try {
      await commands[name](event);
      outcomes[name] = { ok: true };
    } catch (error) {
      outcomes[name] = { ok: false, name: error.name, status: error.$metadata && error.$metadata.httpStatusCode, message: error.message };
    }
  }
  return outcomes;
};
`;

const template = {
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'iam-status',
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
    StageTopic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'iam-stage-topic' } },
    StageTopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [{ Ref: 'StageTopic' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AllowPublishThroughSSLOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: { Ref: 'StageTopic' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
    Key: {
      Type: 'AWS::KMS::Key',
      Properties: {
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::123456789012:root' },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        },
      },
    },
    EncryptedTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: 'iam-encrypted', KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } },
    },
    OwnInbox: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'iam-own-inbox' } },
    OtherInbox: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'iam-other-inbox' } },
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
    PluginPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'plugin-grants',
        Roles: [{ Ref: 'PluginRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['OwnInbox', 'Arn'] } },
            { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } },
            {
              Effect: 'Allow',
              Action: 'cloudwatch:PutMetricData',
              Resource: '*',
              Condition: { StringEquals: { 'cloudwatch:namespace': 'Plugin' } },
            },
            { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'EncryptedTopic' } },
          ],
        },
      },
    },
    PluginFunction: {
      Type: 'AWS::Lambda::Function',
      DependsOn: ['PluginPolicy'],
      Properties: {
        FunctionName: 'iam-plugin',
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Timeout: 30,
        Role: { 'Fn::GetAtt': ['PluginRole', 'Arn'] },
        Code: { ZipFile: PLUGIN_CODE },
      },
    },
    OtherFunction: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: 'iam-other',
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: { 'Fn::GetAtt': ['PluginRole', 'Arn'] },
        Code: { ZipFile: 'exports.handler = async () => "ok";' },
      },
    },
  },
};

let local: LocalCloud;
let admin: SQSClient;
let ownInbox: string;
let otherInbox: string;
let topic: string;
let encryptedTopic: string;
const denials: string[] = [];

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint, { onAccessDenied: ({ reason }) => denials.push(reason) });
  await local.deploy(await writeAssembly([{ name: 'iam-fixture', template }]));
  admin = new SQSClient(local.clientConfig());
  const resources = local.deployer.stack('iam-fixture')?.resources;
  ownInbox = String(resources?.get('OwnInbox')?.physicalId);
  otherInbox = String(resources?.get('OtherInbox')?.physicalId);
  topic = String(resources?.get('StageTopic')?.physicalId);
  encryptedTopic = String(resources?.get('EncryptedTopic')?.physicalId);
}, 120_000);

afterAll(async () => {
  admin?.destroy();
  await local?.stop();
});

function plugin(calls: readonly string[]) {
  return local.invoke('iam-plugin', {
    calls,
    table: 'iam-status',
    topic,
    encryptedTopic,
    ownInbox,
    otherInbox,
  });
}

describe('IAM enforcement on the local cloud', () => {
  it('refuses what the plugin role does not grant, with the error each SDK client throws on AWS', async () => {
    const result = await plugin(['putItem', 'publish', 'sendOther']);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const role = local.identityOf('iam-plugin');
    const put = field(result.payload, 'putItem');
    expect(put).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 400 });
    expect(field(put, 'message')).toBe(
      `User: ${role.arn} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/iam-status because no identity-based policy allows the dynamodb:PutItem action`,
    );
    const publish = field(result.payload, 'publish');
    expect(publish).toMatchObject({ ok: false, name: 'AuthorizationErrorException', status: 403 });
    expect(field(publish, 'message')).toContain(
      `is not authorized to perform: SNS:Publish on resource: ${topic}`,
    );
    const send = field(result.payload, 'sendOther');
    expect(send).toMatchObject({ ok: false, name: 'AccessDenied', status: 403 });
    expect(field(send, 'message')).toContain(
      'sqs:sendmessage on resource: arn:aws:sqs:us-east-1:123456789012:iam-other-inbox',
    );
    expect(denials.filter((reason) => reason.includes(role.arn))).toHaveLength(3);
    // Nothing denied reached moto.
    const other = await admin.send(new ReceiveMessageCommand({ QueueUrl: otherInbox, WaitTimeSeconds: 0 }));
    expect(other.Messages ?? []).toHaveLength(0);
  }, 60_000);

  it('refuses a metric outside its namespace, an invoke it is not granted and a publish without the key grants', async () => {
    const result = await plugin(['ownMetric', 'otherMetric', 'invokeOther', 'publishEncrypted']);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const role = local.identityOf('iam-plugin');
    expect(field(result.payload, 'ownMetric')).toEqual({ ok: true });
    expect(field(result.payload, 'otherMetric')).toMatchObject({
      ok: false,
      name: 'AccessDenied',
      status: 403,
      message: `User: ${role.arn} is not authorized to perform: cloudwatch:PutMetricData because no identity-based policy allows the cloudwatch:PutMetricData action`,
    });
    expect(field(result.payload, 'invokeOther')).toMatchObject({
      ok: false,
      name: 'AccessDeniedException',
      status: 403,
      message: `User: ${role.arn} is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:iam-other because no identity-based policy allows the lambda:InvokeFunction action`,
    });
    const encrypted = field(result.payload, 'publishEncrypted');
    expect(encrypted).toMatchObject({ ok: false, status: 400 });
    expect(String(field(encrypted, 'name'))).toMatch(/^KMSAccessDenied/);
    expect(String(field(encrypted, 'message'))).toContain(
      'kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:123456789012:key/',
    );
  }, 60_000);

  it('lets granted calls through, and the report carries the sending role id as SenderId', async () => {
    const result = await plugin(['getItem', 'sendOwn']);
    expect(result.ok && result.payload).toEqual({ getItem: { ok: true }, sendOwn: { ok: true } });
    const role = local.identityOf('iam-plugin');
    expect(role.roleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    // Two functions of one role: one role id, a session (and so a SenderId) each.
    const identities = local
      .functionIdentities()
      .map(({ functionName, roleId, userId }) => ({ functionName, roleId, userId }))
      .sort((a, b) => a.functionName.localeCompare(b.functionName));
    expect(identities).toEqual([
      { functionName: 'iam-other', roleId: role.roleId, userId: `${role.roleId}:iam-other` },
      { functionName: 'iam-plugin', roleId: role.roleId, userId: `${role.roleId}:iam-plugin` },
    ]);
    const received = await admin.send(
      new ReceiveMessageCommand({
        QueueUrl: ownInbox,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['SenderId'],
      }),
    );
    expect(received.Messages?.map((message) => message.Attributes?.SenderId)).toEqual([
      `${role.roleId}:iam-plugin`,
    ]);
  }, 60_000);

  it('gives the SDK outside the same answers with the function credentials, and the admin keys act as administrator', async () => {
    const asPlugin = { ...local.clientConfig(), credentials: local.credentialsOf('iam-plugin') };
    const dynamodb = new DynamoDBClient(asPlugin);
    const sns = new SNSClient(asPlugin);
    const adminDynamodb = new DynamoDBClient(local.clientConfig());
    try {
      await expect(
        dynamodb.send(
          new PutItemCommand({ TableName: 'iam-status', Item: { pk: { S: 'X' }, sk: { S: 'Y' } } }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(sns.send(new PublishCommand({ TopicArn: topic, Message: 'x' }))).rejects.toMatchObject({
        name: 'AuthorizationErrorException',
      });
      await adminDynamodb.send(
        new PutItemCommand({ TableName: 'iam-status', Item: { pk: { S: 'X' }, sk: { S: 'Y' } } }),
      );
      const read = await dynamodb.send(
        new GetItemCommand({ TableName: 'iam-status', Key: { pk: { S: 'X' }, sk: { S: 'Y' } } }),
      );
      expect(read.Item?.pk?.S).toBe('X');
    } finally {
      dynamodb.destroy();
      sns.destroy();
      adminDynamodb.destroy();
    }
  }, 60_000);

  it('refuses credentials it never issued, and a function key without its session token', async () => {
    const unknown = {
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    };
    const sqs = new SQSClient({ ...local.clientConfig(), credentials: unknown, maxAttempts: 1 });
    const dynamodb = new DynamoDBClient({ ...local.clientConfig(), credentials: unknown, maxAttempts: 1 });
    const { sessionToken: _dropped, ...withoutToken } = local.credentialsOf('iam-plugin');
    const stolen = new SQSClient({ ...local.clientConfig(), credentials: withoutToken, maxAttempts: 1 });
    try {
      await expect(
        sqs.send(new SendMessageCommand({ QueueUrl: ownInbox, MessageBody: 'x' })),
      ).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
        message: 'The security token included in the request is invalid.',
      });
      await expect(
        dynamodb.send(
          new GetItemCommand({ TableName: 'iam-status', Key: { pk: { S: 'X' }, sk: { S: 'Y' } } }),
        ),
      ).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 400 } });
      await expect(
        stolen.send(new SendMessageCommand({ QueueUrl: ownInbox, MessageBody: 'x' })),
      ).rejects.toMatchObject({
        $metadata: { httpStatusCode: 403 },
      });
    } finally {
      sqs.destroy();
      dynamodb.destroy();
      stolen.destroy();
    }
  }, 60_000);
});
