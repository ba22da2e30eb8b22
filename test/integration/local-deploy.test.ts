import { CloudWatchClient, DescribeAlarmsCommand, GetDashboardCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CustomResourceError,
  type DeployedStack,
  type LocalCloud,
  MissingImportError,
  ResourceCreationError,
  StackAlreadyDeployedError,
  UnsupportedPropertyError,
  UnsupportedResourceError,
} from '../../local/index.js';
import {
  CJS_HANDLERS,
  FIXTURE_ASSEMBLY,
  field,
  fixtureFunction,
  startLocalCloud,
  writeAssembly,
} from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();
let local: LocalCloud;
let stacks: DeployedStack[];

function stack(name: string): DeployedStack {
  const found = stacks.find((candidate) => candidate.stackName === name);
  if (found === undefined) throw new Error(`${name} was not deployed`);
  return found;
}

function physicalId(stackName: string, logicalId: string): string {
  const resource = stack(stackName).resources.get(logicalId);
  if (resource === undefined) throw new Error(`${stackName}/${logicalId} was not created`);
  return resource.physicalId;
}

beforeAll(async () => {
  local = await startLocalCloud(moto.endpoint);
  stacks = await local.deploy(FIXTURE_ASSEMBLY);
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

describe('deploying the fixture assembly', () => {
  it('deploys both stacks, the importing stack after the exporting one', () => {
    expect(stacks.map((deployed) => deployed.stackName)).toEqual(['fixture-core', 'fixture-plugins']);
    const core = stack('fixture-core');
    expect(core.resources.size + core.skippedByCondition.length).toBe(
      Object.keys(core.artifact.template.Resources).length,
    );
  });

  it("creates queues with the template's visibility timeout, redrive policy and FIFO settings", async () => {
    const sqs = new SQSClient(motoClientConfig(moto.endpoint));

    const work = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: physicalId('fixture-core', 'WorkQueue'),
        AttributeNames: ['All'],
      }),
    );
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: physicalId('fixture-core', 'WorkDeadLetterQueue'),
        AttributeNames: ['QueueArn', 'MessageRetentionPeriod'],
      }),
    );
    const ordered = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: physicalId('fixture-core', 'OrderedQueue'),
        AttributeNames: ['All'],
      }),
    );

    expect(work.Attributes?.VisibilityTimeout).toBe('5');
    expect(JSON.parse(work.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: dlq.Attributes?.QueueArn,
      maxReceiveCount: 2,
    });
    expect(dlq.Attributes?.MessageRetentionPeriod).toBe('1209600');
    expect(ordered.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
  });

  it('creates the topic with its display name and the KMS key id', async () => {
    const sns = new SNSClient(motoClientConfig(moto.endpoint));

    const topic = await sns.send(
      new GetTopicAttributesCommand({ TopicArn: physicalId('fixture-core', 'EventsTopic') }),
    );

    expect(topic.Attributes?.DisplayName).toBe('Fixture events');
    expect(topic.Attributes?.KmsMasterKeyId).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\//);
  });

  it('creates the table with its keys, GSI projection, billing mode, stream and TTL', async () => {
    const dynamodb = new DynamoDBClient(motoClientConfig(moto.endpoint));
    const tableName = physicalId('fixture-core', 'Table');

    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));

    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: 'active',
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['state'] },
    });
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });

  it('puts the dashboard and the alarm into CloudWatch with resolved references', async () => {
    const cloudwatch = new CloudWatchClient(motoClientConfig(moto.endpoint));
    const dlqName = stack('fixture-core').resources.get('WorkDeadLetterQueue')?.attributes.QueueName;

    const dashboard = await cloudwatch.send(new GetDashboardCommand({ DashboardName: 'fixture-local' }));
    const alarms = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: ['fixture-work-dlq-depth'] }),
    );

    expect(dashboard.DashboardBody).toContain(String(dlqName));
    expect(alarms.MetricAlarms?.[0]).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: dlqName }],
      AlarmActions: [physicalId('fixture-core', 'EventsTopic')],
      Threshold: 1,
    });
  });

  it("resolves intrinsics into a function's environment", async () => {
    const result = await local.invoke('fixture-echo', {});
    if (!result.ok) throw new Error(result.error.errorMessage);
    const env = field(result.payload, 'env');
    const topicName = stack('fixture-core').resources.get('EventsTopic')?.attributes.TopicName;

    expect(env).toMatchObject({
      INBOX_URL_TEMPLATE: `${local.endpoint}/123456789012/fixture-{activity}-{stage}-inbox`,
      FIXTURE_QUEUE_URL: physicalId('fixture-core', 'WorkQueue'),
      FIXTURE_QUEUE_ARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:123456789012:fixture-core-WorkQueue-/),
      FIXTURE_TOPIC_ARN: physicalId('fixture-core', 'EventsTopic'),
      FIXTURE_TABLE_NAME: physicalId('fixture-core', 'Table'),
      FIXTURE_STREAM_ARN: expect.stringContaining(':table/fixture-core-Table-'),
      FIXTURE_SUB: `fixture-core/aws/${String(topicName)}/\${Literal}`,
      FIXTURE_SUB_VARS: 'hi@us-east-1',
      FIXTURE_SELECT: 'beta',
      FIXTURE_IF: 'not-prod',
      FIXTURE_MAPPED: 'standard',
      FIXTURE_STAGE: 'local',
      FIXTURE_GREETING: 'hello plugboard',
      FIXTURE_PARTITION_ARN: 'arn:aws:sqs:us-east-1:123456789012:fixture-*-inbox',
    });
    expect(env).not.toHaveProperty('FIXTURE_NO_VALUE');
  });

  it('leaves out resources and outputs whose condition is false', () => {
    const core = stack('fixture-core');

    expect(core.skippedByCondition).toEqual(['ProdOnlyQueue']);
    expect(core.outputs).not.toHaveProperty('ProdOnly');
    expect(core.resources.has('CDKMetadata')).toBe(true);
  });

  it('answers Fn::GetAtt on a custom resource with the Data its provider sent', () => {
    const greeting = stack('fixture-core').resources.get('Greeting');

    expect(greeting?.physicalId).toBe('greeting-plugboard');
    expect(greeting?.attributes).toEqual({ Greeting: 'hello plugboard', RequestType: 'Create' });
    expect(stack('fixture-core').outputs.GreetingText).toBe('hello plugboard');
  });

  it("feeds one stack's exports to the next stack's Fn::ImportValue", async () => {
    const result = await local.invoke('fixture-plugin', {});
    if (!result.ok) throw new Error(result.error.errorMessage);

    expect(local.exports()).toMatchObject({
      'fixture-local-events-topic-arn': physicalId('fixture-core', 'EventsTopic'),
      'fixture-greeting': 'hello plugboard',
    });
    expect(field(result.payload, 'env')).toMatchObject({
      FIXTURE_IMPORTED_GREETING: 'hello plugboard',
      FIXTURE_ONLY_IN_PLUGIN: 'plugin',
    });
  });

  it('deploys a later, separate assembly that imports the exports of the stacks already deployed', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-later',
        template: {
          Resources: {
            Later: {
              Type: 'AWS::SNS::Topic',
              Properties: { DisplayName: { 'Fn::ImportValue': 'fixture-greeting' } },
            },
          },
        },
      },
    ]);
    const sns = new SNSClient(motoClientConfig(moto.endpoint));

    const [later] = await local.deploy(directory);
    const topic = await sns.send(
      new GetTopicAttributesCommand({ TopicArn: later?.resources.get('Later')?.physicalId ?? '' }),
    );

    expect(topic.Attributes?.DisplayName).toBe('hello plugboard');
  });

  it('records allow-listed resources with the reason nothing was created, and ignored properties with theirs', () => {
    const core = stack('fixture-core');

    expect(core.resources.get('HandlerRole')?.allowListedBecause).toMatch(/IAM/);
    expect(core.resources.get('HandlerRole')?.attributes.Arn).toMatch(/^arn:aws:iam::123456789012:role\//);
    expect(core.resources.get('EchoFunction')?.ignoredProperties.map((ignored) => ignored.property)).toEqual(
      expect.arrayContaining(['Architectures', 'TracingConfig', 'LoggingConfig']),
    );
  });
});

describe('deploy failures', () => {
  it('refuses a resource type it neither supports nor allow-lists, naming it and the stack, before creating anything', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-vpc',
        template: {
          Resources: {
            Created: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'adhoc-vpc-should-not-exist' } },
            Network: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
          },
        },
      },
    ]);
    const sqs = new SQSClient(motoClientConfig(moto.endpoint));

    const failure = local.deploy(directory);

    await expect(failure).rejects.toThrow(UnsupportedResourceError);
    await expect(failure).rejects.toThrow(/adhoc-vpc\/Network: resource type AWS::EC2::VPC is not supported/);
    const queues = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'adhoc-vpc-should-not-exist' }));
    expect(queues.QueueUrls ?? []).toEqual([]);
  });

  it('fails on a property the local cloud does not understand, naming it', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-bogus',
        template: { Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { Bogus: 1 } } } },
      },
    ]);

    await expect(local.deploy(directory)).rejects.toThrow(UnsupportedPropertyError);
    await expect(local.deploy(directory)).rejects.toThrow(
      /adhoc-bogus\/Q \(AWS::SQS::Queue\) property Bogus/,
    );
  });

  it('fails on Fn::ImportValue of an export no deployed stack provides', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-import',
        template: {
          Resources: {
            Topic: {
              Type: 'AWS::SNS::Topic',
              Properties: { DisplayName: { 'Fn::ImportValue': 'nope-export' } },
            },
          },
        },
      },
    ]);

    await expect(local.deploy(directory)).rejects.toThrow(MissingImportError);
    await expect(local.deploy(directory)).rejects.toThrow(/adhoc-import .*"nope-export" is not exported/);
  });

  it('fails with the Reason when a custom resource answers FAILED', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-cr-failed',
        assets: { 'handlers.zip': CJS_HANDLERS },
        template: {
          Resources: {
            Provider: fixtureFunction('index.provider'),
            Refused: {
              Type: 'Custom::Greeting',
              Properties: {
                ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] },
                Name: 'nobody',
                Fail: 'true',
              },
            },
          },
        },
      },
    ]);

    const failure = local.deploy(directory);

    await expect(failure).rejects.toThrow(CustomResourceError);
    await expect(failure).rejects.toThrow('adhoc-cr-failed/Refused: custom resource failed: refusing nobody');
  });

  it('fails with the function error when a custom resource provider crashes before answering', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-cr-crash',
        assets: { 'handlers.zip': CJS_HANDLERS },
        template: {
          Resources: {
            Provider: fixtureFunction('index.provider'),
            Crashed: {
              Type: 'Custom::Greeting',
              Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] }, Name: 'x', Crash: 'true' },
            },
          },
        },
      },
    ]);

    await expect(local.deploy(directory)).rejects.toThrow(
      /adhoc-cr-crash\/Crashed: .*failed without sending a response \(Error: the provider crashed before answering\)/,
    );
  });

  it('fails when a custom resource provider returns without ever answering', async () => {
    const impatient = await startLocalCloud(moto.endpoint, { customResourceTimeoutMs: 800 });
    const directory = await writeAssembly([
      {
        name: 'adhoc-cr-silent',
        assets: { 'handlers.zip': CJS_HANDLERS },
        template: {
          Resources: {
            Provider: fixtureFunction('index.slow'),
            Silent: {
              Type: 'Custom::Greeting',
              Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] } },
            },
          },
        },
      },
    ]);

    try {
      await expect(impatient.deploy(directory)).rejects.toThrow(
        /adhoc-cr-silent\/Silent: .*no response arrived .* 800 ms/,
      );
    } finally {
      await impatient.stop();
    }
  });

  it('refuses to deploy a stack twice (the local cloud does not update stacks)', async () => {
    await expect(local.deploy(FIXTURE_ASSEMBLY, { stacks: ['fixture-core'] })).rejects.toThrow(
      StackAlreadyDeployedError,
    );
  });

  it('fails on a cron schedule, naming the rule and the expression', async () => {
    const directory = await writeAssembly([
      {
        name: 'adhoc-cron',
        assets: { 'handlers.zip': CJS_HANDLERS },
        template: {
          Resources: {
            Target: fixtureFunction('index.slow'),
            Nightly: {
              Type: 'AWS::Events::Rule',
              Properties: {
                Name: 'adhoc-nightly',
                ScheduleExpression: 'cron(0 3 * * ? *)',
                Targets: [{ Id: 't', Arn: { 'Fn::GetAtt': ['Target', 'Arn'] } }],
              },
            },
          },
        },
      },
    ]);

    const failure = local.deploy(directory);

    await expect(failure).rejects.toThrow(ResourceCreationError);
    await expect(failure).rejects.toThrow(
      /adhoc-cron\/Nightly .*adhoc-nightly schedule "cron\(0 3 \* \* \? \*\)": cron schedules are not supported/,
    );
  });

  it('refuses a stack selection whose dependencies are neither deployed nor selected', async () => {
    const directory = await writeAssembly([
      { name: 'adhoc-base', template: { Resources: {} } },
      { name: 'adhoc-top', template: { Resources: {} }, dependencies: ['adhoc-base'] },
    ]);

    await expect(local.deploy(directory, { stacks: ['adhoc-top'] })).rejects.toThrow(
      /adhoc-top depends on adhoc-base, which is neither deployed nor selected/,
    );
  });
});
