/**
 * The local cloud's IAM pieces without moto: what a request asks for (requests.ts), how the
 * registry reads templates' roles and policies, the evaluator's decisions and AWS's error shapes
 * (enforcer.ts), and `SenderId` bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { IamEnforcer } from '../../local/iam/enforcer.js';
import { IamRegistry, roleIdOf } from '../../local/iam/registry.js';
import { accessChecks } from '../../local/iam/requests.js';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/status`;
const QUEUE_URL = `http://127.0.0.1:4566/${ACCOUNT}/inbox`;
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:inbox`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:stage`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/k-1`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/plugin-role`;

/** A registry holding one table, queue, encrypted topic and a plugin-like role. */
function fixture(statements: readonly Record<string, unknown>[]) {
  const registry = new IamRegistry({ accountId: ACCOUNT, region: REGION });
  registry.record({
    type: 'AWS::DynamoDB::Table',
    physicalId: 'status',
    attributes: { Arn: TABLE_ARN },
    properties: {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    },
  });
  registry.record({
    type: 'AWS::KMS::Key',
    physicalId: 'k-1',
    attributes: { Arn: KEY_ARN },
    properties: {
      KeyPolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      },
    },
  });
  registry.record({
    type: 'AWS::SNS::Topic',
    physicalId: TOPIC_ARN,
    attributes: {},
    properties: { KmsMasterKeyId: KEY_ARN },
  });
  registry.record({
    type: 'AWS::SQS::QueuePolicy',
    physicalId: 'qp',
    attributes: {},
    properties: {
      Queues: [QUEUE_URL],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Resource: QUEUE_ARN,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          { Effect: 'Deny', Principal: '*', Action: 'sqs:PurgeQueue', Resource: QUEUE_ARN },
        ],
      },
    },
  });
  registry.record({
    type: 'AWS::IAM::Role',
    physicalId: 'plugin-role',
    attributes: { Arn: ROLE_ARN },
    properties: {},
  });
  registry.record({
    type: 'AWS::IAM::Policy',
    physicalId: 'plugin-policy',
    attributes: {},
    properties: { Roles: ['plugin-role'], PolicyDocument: { Version: '2012-10-17', Statement: statements } },
  });
  const credentials = registry.issueCredentials('plugin-fn', ROLE_ARN);
  const enforcer = new IamEnforcer(registry);
  const headers = (service: string, extra: Record<string, string> = {}) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/20261204/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=00`,
    'x-amz-security-token': credentials.sessionToken ?? '',
    ...extra,
  });
  const json = (target: string) => ({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target });
  return { registry, enforcer, credentials, headers, json };
}

describe('access checks of a request', () => {
  const registry = fixture([]).registry;
  const context = { region: REGION, accountId: ACCOUNT, registry };

  it('splits a transaction into the item actions AWS checks, with leading keys and attributes', () => {
    const checks = accessChecks(
      'dynamodb',
      'TransactWriteItems',
      {
        TransactItems: [
          {
            Put: {
              TableName: 'status',
              Item: { pk: { S: 'RUN#1' }, sk: { S: 'RUN' }, state: { S: 'Running' } },
            },
          },
          {
            Update: {
              TableName: 'status',
              Key: { pk: { S: 'RUN#1' }, sk: { S: 'STAGE#a' } },
              UpdateExpression: 'SET #s = :s, updatedAt = :now REMOVE lease',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#s': 'state' },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          { ConditionCheck: { TableName: 'status', Key: { pk: { S: 'LOCK' }, sk: { S: 'LOCK' } } } },
        ],
      },
      context,
    );
    expect(checks.map((check) => [check.action, check.resource])).toEqual([
      ['dynamodb:PutItem', TABLE_ARN],
      ['dynamodb:UpdateItem', TABLE_ARN],
      ['dynamodb:ConditionCheckItem', TABLE_ARN],
    ]);
    expect(checks[0]?.context['dynamodb:Attributes']).toEqual(['pk', 'sk', 'state']);
    expect(checks[1]?.context['dynamodb:LeadingKeys']).toEqual(['RUN#1']);
    expect(checks[1]?.context['dynamodb:Attributes']).toEqual(['pk', 'sk', 'state', 'updatedAt', 'lease']);
    expect(checks[2]?.context['dynamodb:LeadingKeys']).toEqual(['LOCK']);
  });

  it('names the index of a query, its Select and the partition key of a table query', () => {
    const [index] = accessChecks(
      'dynamodb',
      'Query',
      { TableName: 'status', IndexName: 'active', Select: 'COUNT' },
      context,
    );
    expect(index).toEqual({
      action: 'dynamodb:Query',
      resource: `${TABLE_ARN}/index/active`,
      context: { 'dynamodb:Select': 'COUNT' },
    });
    const [table] = accessChecks(
      'dynamodb',
      'Query',
      {
        TableName: 'status',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': { S: 'RUN#9' } },
      },
      context,
    );
    expect(table?.context['dynamodb:LeadingKeys']).toEqual(['RUN#9']);
  });

  it('maps SQS batches to their single actions, and SNS publishes to encrypted topics to the KMS calls made for the caller', () => {
    expect(accessChecks('sqs', 'SendMessageBatch', { QueueUrl: QUEUE_URL }, context)).toEqual([
      { action: 'sqs:SendMessage', resource: QUEUE_ARN, context: {} },
    ]);
    expect(
      accessChecks('sns', 'Publish', { TopicArn: TOPIC_ARN }, context).map((check) => [
        check.action,
        check.resource,
      ]),
    ).toEqual([
      ['sns:Publish', TOPIC_ARN],
      ['kms:GenerateDataKey', KEY_ARN],
      ['kms:Decrypt', KEY_ARN],
    ]);
    expect(accessChecks('monitoring', 'PutMetricData', { Namespace: 'Plugboard' }, context)).toEqual([
      { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Plugboard' } },
    ]);
  });
});

describe('IAM decisions and the errors AWS answers with', () => {
  it('allows what a policy grants and denies the rest, as the service would say it', async () => {
    const { enforcer, headers, json } = fixture([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: QUEUE_ARN },
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE_ARN },
    ]);
    const send = JSON.stringify({ QueueUrl: QUEUE_URL, MessageBody: 'x' });
    const allowed = await enforcer.authorize(
      'sqs',
      'SendMessage',
      { ...headers('sqs'), ...json('AmazonSQS.SendMessage') },
      '/',
      send,
    );
    expect(allowed.allowed).toBe(true);

    const put = JSON.stringify({ TableName: 'status', Item: { pk: { S: 'RUN#1' }, sk: { S: 'RUN' } } });
    const denied = await enforcer.authorize(
      'dynamodb',
      'PutItem',
      { ...headers('dynamodb'), ...json('DynamoDB_20120810.PutItem') },
      '/',
      put,
    );
    expect(denied.allowed).toBe(false);
    if (denied.allowed) return;
    expect(denied.response.status).toBe(400);
    expect(JSON.parse(denied.response.body.toString())).toEqual({
      __type: 'com.amazon.coral.service#AccessDeniedException',
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/plugin-role/plugin-fn is not authorized to perform: dynamodb:PutItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:PutItem action`,
    });
  });

  it('applies an explicit deny of a queue policy even where the role allows everything', async () => {
    const { enforcer, headers, json } = fixture([{ Effect: 'Allow', Action: 'sqs:*', Resource: '*' }]);
    const denied = await enforcer.authorize(
      'sqs',
      'PurgeQueue',
      { ...headers('sqs'), ...json('AmazonSQS.PurgeQueue') },
      '/',
      JSON.stringify({ QueueUrl: QUEUE_URL }),
    );
    expect(denied.allowed).toBe(false);
    if (denied.allowed) return;
    expect(denied.response.status).toBe(403);
    expect(denied.response.headers['x-amzn-query-error']).toBe('AccessDenied;Sender');
    expect(String(JSON.parse(denied.response.body.toString()).message)).toMatch(
      /sqs:purgequeue on resource: arn:aws:sqs:us-east-1:123456789012:inbox with an explicit deny in a resource-based policy$/,
    );
  });

  it('evaluates DynamoDB condition keys: a leading key outside the pattern is denied', async () => {
    const { enforcer, headers, json } = fixture([
      {
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: TABLE_ARN,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] } },
      },
    ]);
    const update = (pk: string) =>
      enforcer.authorize(
        'dynamodb',
        'UpdateItem',
        { ...headers('dynamodb'), ...json('DynamoDB_20120810.UpdateItem') },
        '/',
        JSON.stringify({
          TableName: 'status',
          Key: { pk: { S: pk }, sk: { S: 'RUN' } },
          UpdateExpression: 'SET a = :a',
        }),
      );
    expect((await update('RUN#7')).allowed).toBe(true);
    expect((await update('CONFIG')).allowed).toBe(false);
  });

  it('asks for the KMS grants an encrypted topic needs, and says so as SNS does', async () => {
    const { enforcer, headers } = fixture([{ Effect: 'Allow', Action: 'sns:Publish', Resource: TOPIC_ARN }]);
    const denied = await enforcer.authorize(
      'sns',
      'Publish',
      { ...headers('sns'), 'content-type': 'application/x-www-form-urlencoded' },
      '/',
      new URLSearchParams({ Action: 'Publish', TopicArn: TOPIC_ARN, Message: 'x' }).toString(),
    );
    expect(denied.allowed).toBe(false);
    if (denied.allowed) return;
    expect(denied.response.status).toBe(400);
    expect(denied.response.body.toString()).toContain('<Code>KMSAccessDenied</Code>');
    expect(denied.response.body.toString()).toContain(`kms:GenerateDataKey on resource: ${KEY_ARN}`);
  });

  it('refuses keys it never issued and an issued key without its session token; the dummy keys act as administrator', async () => {
    const { enforcer, credentials, json } = fixture([]);
    const signed = (key: string, service: string) => ({
      authorization: `AWS4-HMAC-SHA256 Credential=${key}/20261204/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=00`,
    });
    const unknown = await enforcer.authorize(
      'sns',
      'ListTopics',
      signed('AKIAUNKNOWN', 'sns'),
      '/',
      'Action=ListTopics',
    );
    expect(unknown.allowed).toBe(false);
    if (!unknown.allowed) {
      expect(unknown.response.status).toBe(403);
      expect(unknown.response.body.toString()).toContain('<Code>InvalidClientTokenId</Code>');
    }
    const withoutToken = await enforcer.authorize(
      'dynamodb',
      'ListTables',
      { ...signed(credentials.accessKeyId, 'dynamodb'), ...json('DynamoDB_20120810.ListTables') },
      '/',
      '{}',
    );
    expect(withoutToken.allowed).toBe(false);
    if (!withoutToken.allowed)
      expect(JSON.parse(withoutToken.response.body.toString()).__type).toBe(
        'com.amazon.coral.service#UnrecognizedClientException',
      );
    const admin = await enforcer.authorize(
      'dynamodb',
      'DeleteTable',
      { ...signed('testing', 'dynamodb'), ...json('DynamoDB_20120810.DeleteTable') },
      '/',
      JSON.stringify({ TableName: 'status' }),
    );
    expect(admin).toMatchObject({ allowed: true, principal: { kind: 'admin' } });
  });
});

describe('SenderId of received messages', () => {
  it("is the sender's role id and session, also when the receive is answered before the send", async () => {
    const { enforcer, registry, credentials } = fixture([]);
    const principal = registry.principalFor(credentials.accessKeyId, credentials.sessionToken);
    if (principal === undefined) throw new Error('the issued credentials are unknown');
    expect(principal.userId).toBe(`${roleIdOf(ROLE_ARN)}:plugin-fn`);
    const received = JSON.stringify({
      Messages: [{ MessageId: 'm-1', Attributes: { SenderId: 'AIDAIT2UOQQY3AUEKVGXU' } }],
    });
    const done = enforcer.sendStarted();
    const rewriting = enforcer.withSenderIds(received);
    enforcer.rememberSent('SendMessage', principal, JSON.stringify({ MessageId: 'm-1' }));
    done();
    expect(JSON.parse(String(await rewriting)).Messages[0].Attributes.SenderId).toBe(principal.userId);
    // A message nobody sent through the proxy (an SNS delivery inside moto) keeps moto's value.
    const other = JSON.stringify({
      Messages: [{ MessageId: 'm-2', Attributes: { SenderId: 'AIDAIT2UOQQY3AUEKVGXU' } }],
    });
    expect(await enforcer.withSenderIds(other)).toBeUndefined();
  });
});

describe('resource policies of functions and tables', () => {
  const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:plugin-fn`;
  const OTHER_ARN = `arn:aws:iam::${ACCOUNT}:role/another-role`;
  function registryWithPolicies() {
    const registry = new IamRegistry({ accountId: ACCOUNT, region: REGION });
    for (const [name, arn] of [
      ['plugin-role', ROLE_ARN],
      ['another-role', OTHER_ARN],
    ] as const) {
      registry.record({ type: 'AWS::IAM::Role', physicalId: name, attributes: { Arn: arn }, properties: {} });
    }
    registry.record({
      type: 'AWS::Lambda::Permission',
      physicalId: 'perm-1',
      attributes: {},
      properties: { Action: 'lambda:InvokeFunction', FunctionName: 'plugin-fn', Principal: ROLE_ARN },
    });
    registry.record({
      type: 'AWS::DynamoDB::Table',
      physicalId: 'status',
      attributes: { Arn: TABLE_ARN },
      properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        ResourcePolicy: {
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'dynamodb:PutItem', Resource: '*' },
              { Effect: 'Allow', Principal: { AWS: ROLE_ARN }, Action: 'dynamodb:Query', Resource: '*' },
            ],
          },
        },
      },
    });
    return { registry, enforcer: new IamEnforcer(registry) };
  }

  it('lets the principal a Lambda permission names invoke the function without an identity grant, and no one else', async () => {
    const { registry, enforcer } = registryWithPolicies();
    const check = { action: 'lambda:InvokeFunction', resource: FUNCTION_ARN, context: {} };
    expect(await enforcer.firstDenial(registry.principalOfRole(ROLE_ARN, 's'), [check])).toBeUndefined();
    expect(await enforcer.firstDenial(registry.principalOfRole(OTHER_ARN, 's'), [check])).toBeDefined();
  });

  it("applies a table's resource policy to the table and to its indexes", async () => {
    const { registry, enforcer } = registryWithPolicies();
    const role = registry.principalOfRole(ROLE_ARN, 's');
    const query = { action: 'dynamodb:Query', resource: `${TABLE_ARN}/index/active`, context: {} };
    expect(await enforcer.firstDenial(role, [query])).toBeUndefined();
    const put = { action: 'dynamodb:PutItem', resource: TABLE_ARN, context: {} };
    expect(await enforcer.firstDenial(registry.admin, [put])).toMatchObject({ explicit: true });
  });
});
