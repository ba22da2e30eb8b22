import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CoreStack } from '../../lib/core-stack.js';
import shippedConfig from '../../plugboard.config.js';
import { STAGE_NAMES } from '../../plugin-kit/src/contracts/index.js';
import { allowing, asArray, logicalIdOf as logicalId, roleStatements, synthApp } from '../support/synth.js';

describe('core stack (stage dev, retained)', () => {
  let core: CoreStack;
  let template: Template;

  beforeAll(() => {
    const { stacks } = synthApp({ stage: 'dev', nag: false, builtinValidation: false });
    core = stacks.core;
    template = Template.fromStack(core);
  });

  it('is named <system>-<stage>-core', () => {
    expect(core.stackName).toBe('plugboard-dev-core');
  });

  it('exports every core value of the plugin API under its stable name', () => {
    const table = logicalId(core.statusTable.table);
    const topic = logicalId(core.eventsTopic);
    const queue = logicalId(core.startQueue.queue);
    const start = logicalId(core.startFunction.function);
    const registrar = logicalId(core.registrarFunction.function);
    const key = logicalId(core.key);
    const sweeperRole = logicalId(core.sweeperFunction.role);
    const expected: Record<string, unknown> = {
      'plugboard-dev-status-table-name': { Ref: table },
      'plugboard-dev-status-table-arn': { 'Fn::GetAtt': [table, 'Arn'] },
      'plugboard-dev-events-topic-arn': { Ref: topic },
      'plugboard-dev-start-queue-url': { Ref: queue },
      'plugboard-dev-start-queue-arn': { 'Fn::GetAtt': [queue, 'Arn'] },
      'plugboard-dev-start-function-arn': { 'Fn::GetAtt': [start, 'Arn'] },
      'plugboard-dev-start-function-name': { Ref: start },
      'plugboard-dev-registrar-service-token': { 'Fn::GetAtt': [registrar, 'Arn'] },
      'plugboard-dev-key-arn': { 'Fn::GetAtt': [key, 'Arn'] },
      'plugboard-dev-sweeper-role-id': { 'Fn::GetAtt': [sweeperRole, 'RoleId'] },
      'plugboard-dev-registrar-role-arn': {
        'Fn::GetAtt': [logicalId(core.registrarFunction.role), 'Arn'],
      },
    };

    const outputs = template.findOutputs('*');
    const exported = Object.fromEntries(
      Object.values(outputs).map((o) => [(o as { Export: { Name: string } }).Export.Name, o.Value]),
    );
    expect(exported).toEqual(expected);
  });

  it('lays the status table out exactly as TABLE_LAYOUT says, on demand with PITR and TTL', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'active',
          KeySchema: [
            { AttributeName: 'activeWorkflow', KeyType: 'HASH' },
            { AttributeName: 'activeSince', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'runs',
          KeySchema: [
            { AttributeName: 'runsWorkflow', KeyType: 'HASH' },
            { AttributeName: 'runsSort', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('retains the table with deletion protection on a stage that is not ephemeral', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  it('rotates the KMS key and lets CloudWatch and EventBridge of this account use it for topics', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('encrypts the events topic with the key and refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(core.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: logicalId(core.eventsTopic) }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ],
      },
    });
  });

  it('gives the start queue a dead-letter queue after 5 receives, kept 14 days, both TLS-only and encrypted', () => {
    const dlq = logicalId(core.startQueue.deadLetterQueue);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'plugboard-dev-start',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'plugboard-dev-start-dlq',
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
    });
    for (const queue of [core.startQueue.queue, core.startQueue.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(queue) }],
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ],
        },
      });
    }
  });

  it('feeds the start function from its queue in batches of 10 with partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(core.startQueue.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(core.startFunction.function) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('hands the start function its configuration, including its quarantine queue', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('starts workflow runs'),
      Runtime: 'nodejs24.x',
      TracingConfig: Match.absent(),
      Environment: {
        Variables: Match.exact({
          PLUGBOARD_SYSTEM: 'plugboard',
          PLUGBOARD_DEPLOYMENT_STAGE: 'dev',
          PLUGBOARD_TABLE_NAME: { Ref: logicalId(core.statusTable.table) },
          PLUGBOARD_EVENTS_TOPIC_ARN: { Ref: logicalId(core.eventsTopic) },
          PLUGBOARD_INBOX_URL_TEMPLATE: {
            'Fn::Join': [
              '',
              [
                'https://sqs.',
                { Ref: 'AWS::Region' },
                '.',
                { Ref: 'AWS::URLSuffix' },
                '/',
                { Ref: 'AWS::AccountId' },
                '/plugboard-dev-{activity}-{stage}-inbox',
              ],
            ],
          },
          PLUGBOARD_TOPIC_ARN_TEMPLATE: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':sns:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':plugboard-dev-{activity}-{stage}-topic',
              ],
            ],
          },
          PLUGBOARD_CONFIG: JSON.stringify({
            workflows: { order: ['intake', 'fulfilment', 'notify'] },
            activities: {
              intake: { deadlineSeconds: 300, maxAttempts: 3, retryBaseSeconds: 2 },
              fulfilment: { deadlineSeconds: 300, maxAttempts: 3, retryBaseSeconds: 2 },
              notify: { deadlineSeconds: 300, maxAttempts: 3, retryBaseSeconds: 2 },
            },
            // The shipped config declares the order workflow's input (plugboard.config.ts).
            inputs: {
              order: {
                customer: { type: 'string', description: 'Who ordered' },
                giftWrap: { type: 'boolean', description: 'Dispatch gift-wrap (its filter policy)' },
                failPayment: {
                  type: 'string',
                  description: 'Make charge-payment fail (demo)',
                  enum: ['once', 'always', 'first-run'],
                },
                hangCourier: { type: 'boolean', description: 'Make track-courier never answer (demo)' },
                failReview: { type: 'boolean', description: 'Make the optional request-review fail (demo)' },
              },
            },
          }),
          POWERTOOLS_SERVICE_NAME: 'plugboard',
          NODE_OPTIONS: '--enable-source-maps',
          PLUGBOARD_QUARANTINE_URL: { Ref: logicalId(core.startQueue.deadLetterQueue) },
        }),
      },
    });
  });

  it('runs the sweeper every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(core.sweeperFunction.function), 'Arn'] } }),
      ],
    });
  });

  it('keeps every function log for a month in its own log group', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logicalId(core.startFunction.logGroup) } },
    });
  });

  it('lets CloudFormation of this account invoke the registrar', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [logicalId(core.registrarFunction.function), 'Arn'] },
      Principal: 'cloudformation.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
  });

  it('gives the registrar no invoke permission of its own, and exports its role ARN for plugins that want initialize', () => {
    const statements = roleStatements(template, logicalId(core.registrarFunction.role));
    expect(allowing(statements, 'lambda:InvokeFunction')).toEqual([]);
    template.hasOutput('RegistrarRoleArn', {
      Export: { Name: 'plugboard-dev-registrar-role-arn' },
      Value: { 'Fn::GetAtt': [logicalId(core.registrarFunction.role), 'Arn'] },
    });
  });

  it('lets the start function publish to each stage topic of the declared activities (exact names) and the events topic, and send to no inbox', () => {
    const statements = roleStatements(template, logicalId(core.startFunction.role));
    const published = allowing(statements, 'sns:Publish').flatMap((s) => asArray(s.Resource));
    const sends = allowing(statements, 'sqs:SendMessage').flatMap((s) => asArray(s.Resource));

    expect(byJson(published)).toEqual(
      byJson([...everyStage('sns', 'topic'), { Ref: logicalId(core.eventsTopic) }]),
    );
    expect(JSON.stringify(published)).not.toContain('*');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect(allowing(statements, action).flatMap((s) => asArray(s.Resource))).toEqual([
        { 'Fn::GetAtt': [logicalId(core.key), 'Arn'] },
      ]);
    }
    // It enters the first stage by publishing: its only send is a quarantine to its own dead-letter queue.
    expect(sends).toEqual([{ 'Fn::GetAtt': [logicalId(core.startQueue.deadLetterQueue), 'Arn'] }]);
    expect(JSON.stringify(statements)).not.toContain('-inbox');
  });

  it('lets the sweeper send to each inbox of the declared activities only (exact names), and publish nothing', () => {
    const statements = roleStatements(template, logicalId(core.sweeperFunction.role));
    const sends = allowing(statements, 'sqs:SendMessage');

    expect(byJson(sends.flatMap((s) => asArray(s.Resource)))).toEqual(byJson(everyStage('sqs', 'inbox')));
    expect(sends.every((s) => asArray(s.Action).length === 1)).toBe(true);
    expect(allowing(statements, 'sns:Publish')).toEqual([]);
    expect(allowing(statements, 'kms:GenerateDataKey')).toEqual([]);
  });

  it('lets the registrar put, delete and read registrations on the table only, and publish nothing', () => {
    const statements = roleStatements(template, logicalId(core.registrarFunction.role));
    const table = allowing(statements, 'dynamodb:PutItem');

    expect(table.flatMap((s) => asArray(s.Action)).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
    ]);
    expect(table.flatMap((s) => asArray(s.Resource))).toEqual([
      { 'Fn::GetAtt': [logicalId(core.statusTable.table), 'Arn'] },
    ]);
    expect(allowing(statements, 'dynamodb:Query')).toEqual([]);
    expect(allowing(statements, 'sns:Publish')).toEqual([]);
    expect(allowing(statements, 'kms:Decrypt')).toEqual([]);
  });
});

/** The ARN of every stage's inbox or topic of the shipped config's activities, in declaration order. */
function everyStage(service: 'sqs' | 'sns', kind: 'inbox' | 'topic'): unknown[] {
  return Object.keys(shippedConfig.activities).flatMap((activity) =>
    STAGE_NAMES.map((stage) => pattern(service, `plugboard-dev-${activity}-${stage}-${kind}`)),
  );
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>` as the CDK synthesizes it. */
function pattern(service: string, resource: string): unknown {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:${resource}`,
      ],
    ],
  };
}

describe('core stack (ephemeral stage)', () => {
  it('destroys the table, key and log groups and turns deletion protection off', () => {
    const { stacks } = synthApp({ stage: 'pr42', ephemeral: 'true', nag: false, builtinValidation: false });
    const template = Template.fromStack(stacks.core);

    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PendingWindowInDays: 7 }),
    });
    template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  it('treats a stage listed in ephemeralStages as ephemeral unless the context says otherwise', () => {
    const config = {
      workflows: [{ name: 'order', activities: ['intake'] }],
      activities: { intake: {} },
      ephemeralStages: ['sandbox'],
    };
    const listed = synthApp({ stage: 'sandbox', config, nag: false, builtinValidation: false });
    const overridden = synthApp({
      stage: 'sandbox',
      config,
      ephemeral: false,
      nag: false,
      builtinValidation: false,
    });

    expect(listed.stacks.ephemeral).toBe(true);
    Template.fromStack(listed.stacks.core).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    expect(overridden.stacks.ephemeral).toBe(false);
    Template.fromStack(overridden.stacks.core).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
    });
  });
});

/** Values in a stable order (the CDK sorts a statement's resources). */
function byJson(values: readonly unknown[]): string[] {
  return values.map((value) => JSON.stringify(value)).sort();
}
