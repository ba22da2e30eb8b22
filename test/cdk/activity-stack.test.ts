import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { Activity, type ActivityProps } from '../../lib/activity.js';
import type { ActivityStack } from '../../lib/activity-stack.js';
import type { CoreStack } from '../../lib/core-stack.js';
import { PlugboardCdkError } from '../../lib/errors.js';
import { StatusTable } from '../../lib/status-table.js';
import shippedConfig from '../../plugboard.config.js';
import { STAGE_NAMES, type StageName } from '../../plugin-kit/src/contracts/index.js';
import {
  allowing,
  asArray,
  logicalIdOf as logicalId,
  roleStatements,
  type StatementJson,
  synthApp,
} from '../support/synth.js';

/** `arn:<partition>:sns:<region>:<account>:plugboard-dev-*-topic`: every stage topic of the dev deployment. */
/** The ARN of a named queue or topic of this account, as the templates write it. */
const namedArn = (service: string, name: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${name}`,
    ],
  ],
});

describe('activity stack (intake, stage dev)', () => {
  let core: CoreStack;
  let stack: ActivityStack;
  let allActivityStacks: readonly ActivityStack[];
  let template: Template;

  beforeAll(() => {
    const { stacks } = synthApp({ stage: 'dev', nag: false, builtinValidation: false });
    core = stacks.core;
    allActivityStacks = stacks.activities;
    const intake = stacks.activities.find((s) => s.activity.activityName === 'intake');
    if (!intake) throw new Error('no intake activity stack');
    stack = intake;
    template = Template.fromStack(stack);
  });

  it('is named <system>-<stage>-activity-<name> and depends on core', () => {
    expect(stack.stackName).toBe('plugboard-dev-activity-intake');
    expect(stack.dependencies).toContain(core);
  });

  it('exports the stage topic ARNs and inbox ARNs and URLs under their stable names', () => {
    const expected: Record<string, unknown> = {};
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      expected[`plugboard-dev-intake-${stage}-processing`] = { Ref: logicalId(s.topic) };
      expected[`plugboard-dev-intake-${stage}-inbox-arn`] = {
        'Fn::GetAtt': [logicalId(s.inbox.queue), 'Arn'],
      };
      expected[`plugboard-dev-intake-${stage}-inbox-url`] = { Ref: logicalId(s.inbox.queue) };
    }

    const exported = Object.fromEntries(
      Object.values(template.findOutputs('*')).map((o) => [
        (o as { Export: { Name: string } }).Export.Name,
        o.Value,
      ]),
    );
    expect(exported).toEqual(expected);
  });

  it('imports from core only through core exports', () => {
    const coreExports = new Set(
      Object.values(Template.fromStack(core).findOutputs('*')).map(
        (o) => (o as { Export: { Name: string } }).Export.Name,
      ),
    );
    const imports = new Set<string>();
    JSON.stringify(template.toJSON(), (key, value: unknown) => {
      if (key === 'Fn::ImportValue' && typeof value === 'string') imports.add(value);
      return value;
    });

    expect([...imports].sort()).toEqual([
      'plugboard-dev-events-topic-arn',
      'plugboard-dev-key-arn',
      'plugboard-dev-status-table-arn',
      'plugboard-dev-status-table-name',
      'plugboard-dev-sweeper-role-id',
    ]);
    for (const name of imports) expect(coreExports.has(name)).toBe(true);
  });

  it('encrypts each stage topic with the core key; refuses publishing without TLS or by a non-engine role, and subscriptions other than lambda and sqs', () => {
    template.resourceCountIs('AWS::SNS::Topic', 3);
    template.allResourcesProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::ImportValue': 'plugboard-dev-key-arn' },
    });
    template.resourceCountIs('AWS::SNS::TopicPolicy', 3);
    for (const stage of STAGE_NAMES) {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: logicalId(stack.activity.stages[stage].topic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sns:Publish',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Sid: 'OnlyTheEnginePublishes',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sns:Publish',
              Condition: { StringNotEquals: { 'aws:PrincipalTag/plugboard:engine': 'plugboard-dev' } },
            }),
            Match.objectLike({
              Sid: 'SubscribeWithLambdaOrSqsOnly',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sns:Subscribe',
              Condition: { StringNotEquals: { 'sns:Protocol': ['lambda', 'sqs'] } },
            }),
          ]),
        },
      });
    }
    // Every orchestrator role carries the engine tag the policy tests.
    const resources = template.toJSON().Resources as Record<string, { Properties?: { Tags?: unknown } }>;
    for (const stage of STAGE_NAMES) {
      const role = resources[logicalId(stack.activity.stages[stage].orchestrator.role)];
      expect(role?.Properties?.Tags).toEqual(
        expect.arrayContaining([{ Key: 'plugboard:engine', Value: 'plugboard-dev' }]),
      );
    }
  });

  it('names each inbox and its dead-letter queue deterministically and redrives after 5 receives', () => {
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `plugboard-dev-intake-${stage}-inbox`,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(s.inbox.deadLetterQueue), 'Arn'] },
          maxReceiveCount: 5,
        },
        SqsManagedSseEnabled: true,
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `plugboard-dev-intake-${stage}-inbox-dlq`,
        MessageRetentionPeriod: 1_209_600,
        SqsManagedSseEnabled: true,
      });
    }
  });

  it('names each stage topic <system>-<stage>-<activity>-<stage>-topic, so another activity stack can publish by name', () => {
    for (const stage of STAGE_NAMES) {
      const topic = template.findResources('AWS::SNS::Topic')[logicalId(stack.activity.stages[stage].topic)];
      expect(topic?.Properties?.TopicName).toBe(`plugboard-dev-intake-${stage}-topic`);
    }
  });

  it('refuses every queue request that does not use TLS', () => {
    template.resourceCountIs('AWS::SQS::Queue', 6);
    template.resourceCountIs('AWS::SQS::QueuePolicy', 6);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  it('keeps each inbox message invisible for 6 × the orchestrator timeout (no window by default)', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const queues = template.findResources('AWS::SQS::Queue');
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      const timeout = Number(functions[logicalId(s.orchestrator.function)]?.Properties?.Timeout);
      const visibility = Number(queues[logicalId(s.inbox.queue)]?.Properties?.VisibilityTimeout);
      expect(timeout).toBe(30);
      // 6 × the timeout plus the batching window, which is zero by default.
      expect(visibility).toBe(6 * timeout);
    }
  });

  it('feeds each orchestrator from its inbox in batches of 10 without a batching window, reporting partial failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalId(s.inbox.queue), 'Arn'] },
        FunctionName: { Ref: logicalId(s.orchestrator.function) },
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: Match.absent(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('runs each stage orchestrator with 512 MB on Node.js 24, not traced by default, with its stage settings', () => {
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        MemorySize: 512,
        TracingConfig: Match.absent(),
        Environment: {
          Variables: Match.objectLike({
            PLUGBOARD_SYSTEM: 'plugboard',
            PLUGBOARD_DEPLOYMENT_STAGE: 'dev',
            PLUGBOARD_TABLE_NAME: { 'Fn::ImportValue': 'plugboard-dev-status-table-name' },
            PLUGBOARD_EVENTS_TOPIC_ARN: { 'Fn::ImportValue': 'plugboard-dev-events-topic-arn' },
            PLUGBOARD_INBOX_URL_TEMPLATE: Match.anyValue(),
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
            PLUGBOARD_CONFIG: Match.stringLikeRegexp('^\\{"workflows":\\{"order":'),
            POWERTOOLS_SERVICE_NAME: 'plugboard',
            NODE_OPTIONS: '--enable-source-maps',
            PLUGBOARD_ACTIVITY: 'intake',
            PLUGBOARD_STAGE: stage,
            PLUGBOARD_TOPIC_ARN: { Ref: logicalId(s.topic) },
            PLUGBOARD_QUARANTINE_URL: { Ref: logicalId(s.inbox.deadLetterQueue) },
          }),
        },
      });
    }
  });

  it('lets each orchestrator publish to each stage topic of the declared activities (exact names, no pattern) and the events topic only', () => {
    const activities = Object.keys(shippedConfig.activities);
    for (const stage of STAGE_NAMES) {
      const s = stack.activity.stages[stage];
      const statements = roleStatements(template, logicalId(s.orchestrator.role));
      const published = allowing(statements, 'sns:Publish').flatMap((st) => asArray(st.Resource));

      expect(byJson(published)).toEqual(
        byJson([
          ...activities.flatMap((activity) =>
            STAGE_NAMES.map((name) => namedArn('sns', `plugboard-dev-${activity}-${name}-topic`)),
          ),
          { 'Fn::ImportValue': 'plugboard-dev-events-topic-arn' },
        ]),
      );
      expect(JSON.stringify(published)).not.toContain('*');
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        expect(allowing(statements, action).flatMap((st) => asArray(st.Resource))).toEqual([
          { 'Fn::ImportValue': 'plugboard-dev-key-arn' },
        ]);
      }
    }
  });

  it('lets each orchestrator get, put, update and query the table only: no index, no delete, no Scan', () => {
    const s = stack.activity.stages.parallel;
    const statements = roleStatements(template, logicalId(s.orchestrator.role));
    const tableStatements = statements.filter((st) =>
      asArray(st.Action).some((a) => a.startsWith('dynamodb:')),
    );

    expect(tableStatements).toHaveLength(1);
    expect(asArray(tableStatements[0]?.Action ?? []).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(tableStatements[0]?.Resource).toEqual({ 'Fn::ImportValue': 'plugboard-dev-status-table-arn' });
  });

  it('lets each orchestrator of every activity send only to its own inbox (retries) and its own dead-letter queue', () => {
    for (const activityStack of allActivityStacks) {
      const activityTemplate = Template.fromStack(activityStack);
      for (const stage of STAGE_NAMES) {
        const s = activityStack.activity.stages[stage];
        const statements = roleStatements(activityTemplate, logicalId(s.orchestrator.role));
        const resources = allowing(statements, 'sqs:SendMessage').flatMap((st) => asArray(st.Resource));

        expect(resources).toEqual(
          expect.arrayContaining([
            { 'Fn::GetAtt': [logicalId(s.inbox.queue), 'Arn'] },
            { 'Fn::GetAtt': [logicalId(s.inbox.deadLetterQueue), 'Arn'] },
          ]),
        );
        expect(resources).toHaveLength(2);
        // No name pattern, no import and no wildcard action could reach another stage's inbox.
        expect(JSON.stringify(statements)).not.toContain('-inbox');
        expect(statements.flatMap((st) => asArray(st.Action)).filter((a) => a.includes('*'))).toEqual([]);
      }
    }
  });
});

describe('activity stacks with parallelBatching on one activity', () => {
  let intake: ActivityStack;
  let notify: ActivityStack;

  beforeAll(() => {
    const { stacks } = synthApp({
      stage: 'dev',
      nag: false,
      builtinValidation: false,
      config: {
        workflows: [{ name: 'order', activities: ['intake', 'notify'] }],
        activities: { intake: { parallelBatching: { windowSeconds: 2, batchSize: 100 } }, notify: {} },
      },
    });
    const byName = (name: string) => {
      const found = stacks.activities.find((s) => s.activity.activityName === name);
      if (!found) throw new Error(`no ${name} activity stack`);
      return found;
    };
    intake = byName('intake');
    notify = byName('notify');
  });

  /** The event source mapping and the inbox queue of one stage, as synthesized. */
  function inboxOf(activityStack: ActivityStack, stage: StageName) {
    const template = Template.fromStack(activityStack);
    const s = activityStack.activity.stages[stage];
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) =>
        JSON.stringify(m.Properties?.EventSourceArn) ===
        JSON.stringify({ 'Fn::GetAtt': [logicalId(s.inbox.queue), 'Arn'] }),
    );
    expect(mappings).toHaveLength(1);
    const queue = template.findResources('AWS::SQS::Queue')[logicalId(s.inbox.queue)];
    return {
      mapping: mappings[0]?.Properties ?? {},
      visibility: queue?.Properties?.VisibilityTimeout as unknown,
    };
  }

  it("batches that activity's parallel inbox within the window and waits 6 × 30 s + the window before redelivery", () => {
    const { mapping, visibility } = inboxOf(intake, 'parallel');

    expect(mapping).toMatchObject({ BatchSize: 100, MaximumBatchingWindowInSeconds: 2 });
    expect(visibility).toBe(6 * 30 + 2);
  });

  it('leaves its sequential stages and every stage of the other activity without a window, in batches of 10', () => {
    const unbatched = [
      ['intake', intake, 'pre'],
      ['intake', intake, 'post'],
      ...STAGE_NAMES.map((stage) => ['notify', notify, stage] as const),
    ] as const;
    for (const [name, activityStack, stage] of unbatched) {
      const { mapping, visibility } = inboxOf(activityStack, stage);

      expect(mapping.BatchSize, `${name} ${stage}`).toBe(10);
      expect(mapping, `${name} ${stage}`).not.toHaveProperty('MaximumBatchingWindowInSeconds');
      expect(visibility, `${name} ${stage}`).toBe(6 * 30);
    }
  });
});

describe('Activity construct', () => {
  function standalone(overrides: Partial<ActivityProps> = {}) {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new Stack(app, 'Host');
    const props: ActivityProps = {
      deployment: { systemName: 'plugboard', stage: 'test' },
      activityName: 'intake',
      table: Table.fromTableName(stack, 'Table', 'status'),
      eventsTopic: Topic.fromTopicArn(stack, 'Events', 'arn:aws:sns:eu-west-1:111111111111:events'),
      key: Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/abc'),
      environment: {},
      ...overrides,
    };
    return { stack, activity: new Activity(stack, 'Activity', props) };
  }

  it('grants a plugin sqs:SendMessage on the three inboxes and nothing else', () => {
    const { stack, activity } = standalone();
    const plugin = new Role(stack, 'Plugin', { assumedBy: new AccountRootPrincipal() });

    activity.grantReport(plugin);

    const statements: StatementJson[] = roleStatements(Template.fromStack(stack), logicalId(plugin));
    expect([...new Set(statements.flatMap((s) => asArray(s.Action)))]).toEqual(['sqs:SendMessage']);
    expect(statements.every((s) => s.Effect === 'Allow' && s.Condition === undefined)).toBe(true);
    expect(statements.flatMap((s) => asArray(s.Resource))).toEqual(
      STAGE_NAMES.map((stage) => ({ 'Fn::GetAtt': [logicalId(activity.stages[stage].inbox.queue), 'Arn'] })),
    );
  });

  it('grants status readers GetItem, BatchGetItem and Query only, never a write', () => {
    const { stack } = standalone();
    const reader = new Role(stack, 'Reader', { assumedBy: new AccountRootPrincipal() });

    StatusTable.grantReadStatus(Table.fromTableName(stack, 'Status', 'status'), reader);

    const actions = roleStatements(Template.fromStack(stack), logicalId(reader)).flatMap((s) =>
      asArray(s.Action),
    );
    expect(actions.sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
  });

  it('derives the inbox visibility timeout from the function timeout it is given', () => {
    const { stack, activity } = standalone({ functionTimeout: Duration.seconds(60) });

    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'plugboard-test-intake-pre-inbox',
      VisibilityTimeout: 360,
    });
    expect(activity.stages.pre.stage).toBe('pre');
  });

  it('rejects an invalid activity name and memory size in one error naming both', () => {
    expect(() => standalone({ activityName: 'Intake!', memorySize: 64 })).toThrow(PlugboardCdkError);
    expect(() => standalone({ activityName: 'Intake!', memorySize: 64 })).toThrow(
      /activityName "Intake!" is not a valid name.*memorySize is 64/,
    );
  });
});

/** Values in a stable order (the CDK sorts a statement's resources). */
function byJson(values: readonly unknown[]): string[] {
  return values.map((value) => JSON.stringify(value)).sort();
}
