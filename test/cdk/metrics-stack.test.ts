/**
 * Template tests of the metrics stack: what it imports, the liveness function and its schedule, least
 * privilege, the alerts topic and its email subscription, the alarms, the dashboard, and cdk-nag.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Tags, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { StrictNagPack } from '../../lib/nag-checks.js';
import { MetricsStackPropsError } from '../../metrics/errors.js';
import { MetricsStack, type MetricsStackProps } from '../../metrics/metrics-stack.js';
import { cfnLint } from '../support/synth.js';

const CDK_JSON = fileURLToPath(new URL('../../cdk.json', import.meta.url));

function cdkJsonContext(): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(CDK_JSON, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('context' in parsed)) return {};
  const { context } = parsed;
  return typeof context === 'object' && context !== null ? { ...context } : {};
}

const WORKFLOWS = ['order', 'refund'];
const ACTIVITIES = ['intake', 'fulfilment', 'notify'];

function build(props: Partial<MetricsStackProps> = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new MetricsStack(app, 'plugboard-dev-metrics', {
    deployment: { systemName: 'plugboard', stage: 'dev' },
    workflows: WORKFLOWS,
    activities: ACTIVITIES,
    ...props,
  });
  return { app, stack };
}

function synth(props: Partial<MetricsStackProps> = {}, context: Record<string, unknown> = {}) {
  const { app, stack } = build(props, context);
  return { app, stack, template: Template.fromStack(stack) };
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every statement of every policy attached to the liveness function's role. */
function functionStatements(template: Template, stack: MetricsStack): Statement[] {
  const roleId = stack.getLogicalId(stack.liveness.role.node.defaultChild as never);
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) => {
    const props = policy.Properties as {
      Roles: { Ref: string }[];
      PolicyDocument: { Statement: Statement[] };
    };
    return props.Roles.some((r) => r.Ref === roleId) ? props.PolicyDocument.Statement : [];
  });
}

/** The dashboard body as JSON, with every CloudFormation token inside it replaced by `<token>`. */
function dashboardBody(template: Template): {
  widgets: { type: string; properties: Record<string, unknown> }[];
} {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  if (!dashboard) throw new Error('no dashboard in the template');
  const body = (dashboard.Properties as { DashboardBody: unknown }).DashboardBody;
  const parts =
    typeof body === 'string' ? [body] : ((body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? []);
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join(''));
}

const importOf = (name: string) => ({ 'Fn::ImportValue': name });

/** An alarm's only metric, as CDK renders a labelled metric (the `Metrics` form). */
const singleMetric = (
  namespace: string,
  metricName: string,
  dimensions: unknown[],
  period: number,
  stat: string,
) =>
  Match.objectLike({
    ReturnData: true,
    MetricStat: {
      Metric: { Namespace: namespace, MetricName: metricName, Dimensions: dimensions },
      Period: period,
      Stat: stat,
    },
  });

describe('metrics stack', () => {
  it('imports the status table and key from the core exports by name, with no other stack reference', () => {
    const { stack, template } = synth();
    const json = JSON.stringify(template.toJSON());

    expect(stack.stackName).toBe('plugboard-dev-metrics');
    expect(json).toContain(JSON.stringify(importOf('plugboard-dev-status-table-name')));
    expect(json).toContain(JSON.stringify(importOf('plugboard-dev-status-table-arn')));
    expect(json).toContain(JSON.stringify(importOf('plugboard-dev-key-arn')));
    const imports = [...json.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(imports)).toEqual(
      new Set(['plugboard-dev-status-table-name', 'plugboard-dev-status-table-arn', 'plugboard-dev-key-arn']),
    );
    expect(stack.dependencies).toEqual([]);
  });

  it('runs the liveness function on Node.js 24 (arm64) with tracing, JSON logs kept a month, and its config', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Timeout: 55,
      Environment: {
        Variables: Match.objectLike({
          PLUGBOARD_TABLE_NAME: importOf('plugboard-dev-status-table-name'),
          PLUGBOARD_DEPLOYMENT_STAGE: 'dev',
          PLUGBOARD_WORKFLOWS: '["order","refund"]',
          PLUGBOARD_INACTIVE_MINUTES: '10',
          PLUGBOARD_STUCK_MINUTES: '20',
          PLUGBOARD_ALERTS_TOPIC_ARN: Match.objectLike({ Ref: Match.stringLikeRegexp('AlertsTopic') }),
        }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
  });

  it('destroys the log group with the stack on an ephemeral stage', () => {
    const { template } = synth({ ephemeral: true });

    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  it('schedules the check every minute by default, and as configured', () => {
    const { template } = synth();
    const custom = synth({
      schedule: Duration.minutes(5),
      inactiveAfter: Duration.minutes(15),
      stuckAfter: Duration.hours(1),
    });

    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LivenessFunction'), 'Arn'] } }),
      ],
    });
    custom.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ PLUGBOARD_INACTIVE_MINUTES: '15', PLUGBOARD_STUCK_MINUTES: '60' }),
      },
    });
  });

  it('grants the function only: Query on the active index, BatchGetItem and UpdateItem of alert attributes on run partitions, PutMetricData in its namespace, Publish and the key', () => {
    const { stack, template } = synth();
    const statements = functionStatements(template, stack);
    const allowed = statements.flatMap(actionsOf).sort();

    expect(allowed).toEqual(
      [
        'cloudwatch:PutMetricData',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sns:Publish',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
    expect(bySid('QueryActiveIndex')?.Resource).toEqual({
      'Fn::Join': ['', [importOf('plugboard-dev-status-table-arn'), '/index/active']],
    });
    expect(bySid('QueryActiveIndex')?.Condition).toEqual({
      StringEquals: { 'dynamodb:Select': ['COUNT', 'SPECIFIC_ATTRIBUTES'] },
    });
    expect(bySid('ReadRunAndStageItems')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] },
    });
    expect(bySid('RememberStuckAlerts')).toMatchObject({
      Resource: importOf('plugboard-dev-status-table-arn'),
      Condition: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] },
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [
            'pk',
            'sk',
            'stuckAlertedAt',
            'stuckAlertedProgress',
            'activeWorkflow',
            'updatedAt',
          ],
        },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
      },
    });
    const putMetrics = statements.find((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));
    expect(putMetrics?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Plugboard' } });
    expect(
      statements
        .filter((s) => s.Resource === '*')
        .flatMap(actionsOf)
        .sort(),
    ).toEqual(['cloudwatch:PutMetricData', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('encrypts the alerts topic with the core key, refuses plain HTTP and lets only this account’s alarms publish', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: importOf('plugboard-dev-key-arn'),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'AllowAlarmsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
          }),
        ]),
      },
    });
    template.hasOutput('AlertsTopicArn', { Export: { Name: 'plugboard-dev-alerts-topic-arn' } });
  });

  it('subscribes an email to the alerts topic from the alarmEmail prop', () => {
    const { template } = synth({ alarmEmail: 'ops@example.com' });

    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('subscribes an email from the alarmEmail context value, and none without it', () => {
    const withContext = synth({}, { alarmEmail: 'oncall@example.com' });
    const without = synth();

    withContext.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    without.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('alarms on stuck runs (any, all workflows) with alarm and OK actions to the alerts topic', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [
        singleMetric(
          'Plugboard',
          'StuckWorkflows',
          [{ Name: 'deploymentStage', Value: 'dev' }],
          60,
          'Maximum',
        ),
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
    });
  });

  it('alarms on each workflow’s failure rate (RunsFailed / RunsStarted over 5 minutes) above the threshold', () => {
    const { template } = synth();
    const strict = synth({ failureRateThresholdPercent: 12.5 });

    for (const workflow of WORKFLOWS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
        Metrics: Match.arrayWith([
          Match.objectLike({
            Expression: `IF(FILL(started_${workflow}, 0) > 0, 100 * FILL(failed_${workflow}, 0) / FILL(started_${workflow}, 0), IF(FILL(failed_${workflow}, 0) > 0, 100, 0))`,
          }),
          Match.objectLike({
            Id: `failed_${workflow}`,
            MetricStat: {
              Metric: {
                Namespace: 'Plugboard',
                MetricName: 'RunsFailed',
                Dimensions: Match.arrayWith([{ Name: 'workflow', Value: workflow }]),
              },
              Period: 300,
              Stat: 'Sum',
            },
          }),
          Match.objectLike({
            Id: `started_${workflow}`,
            MetricStat: Match.objectLike({ Period: 300, Stat: 'Sum' }),
          }),
        ]),
      });
    }
    strict.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 12.5,
      Metrics: Match.anyValue(),
    });
  });

  it('addresses the engine EMF metrics with deploymentStage, service (the system name) and workflow', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({
          Id: 'started_order',
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'Plugboard',
              MetricName: 'RunsStarted',
              Dimensions: [
                { Name: 'deploymentStage', Value: 'dev' },
                { Name: 'service', Value: 'plugboard' },
                { Name: 'workflow', Value: 'order' },
              ],
            },
          }),
        }),
      ]),
    });
  });

  it('alarms on any message in each stage inbox dead-letter queue and in the extra ones', () => {
    const { template, stack } = synth({ additionalDeadLetterQueueNames: ['plugboard-dev-start-dlq'] });

    expect(stack.deadLetterQueueNames).toHaveLength(ACTIVITIES.length * 3 + 1);
    for (const queueName of stack.deadLetterQueueNames) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: [
          singleMetric(
            'AWS/SQS',
            'ApproximateNumberOfMessagesVisible',
            [{ Name: 'QueueName', Value: queueName }],
            60,
            'Maximum',
          ),
        ],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
      });
    }
    expect(stack.deadLetterQueueNames).toContain('plugboard-dev-fulfilment-parallel-inbox-dlq');
  });

  it('alarms when the liveness function falls silent or keeps failing', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [
        singleMetric(
          'Plugboard',
          'ActiveWorkflows',
          [{ Name: 'deploymentStage', Value: 'dev' }],
          300,
          'SampleCount',
        ),
      ],
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 2,
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    // 1 stuck + 2 failure rate + 9 dead-letter queues + 2 liveness + 1 unauthenticated senders.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 15);
  });

  it('alarms on any inbox message refused for its sender', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UnauthenticatedSenders',
      Namespace: 'Plugboard',
      Dimensions: [
        { Name: 'deploymentStage', Value: 'dev' },
        { Name: 'service', Value: 'plugboard' },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
    });
    const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find(
      (resource) => resource.Properties?.MetricName === 'UnauthenticatedSenders',
    );
    expect(JSON.stringify(alarm?.Properties?.AlarmDescription)).toContain('unauthenticated sender: …');
  });

  it('gives every alarm the alerts topic as its alarm and OK action', () => {
    const { template } = synth();

    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      const props = alarm.Properties as { AlarmActions: unknown[]; OKActions: unknown[] };
      expect(props.AlarmActions).toEqual([{ Ref: expect.stringMatching(/AlertsTopic/) }]);
      expect(props.OKActions).toEqual(props.AlarmActions);
    }
  });

  it('builds a dashboard that reads at a glance: alarms and numbers first, then plugins, plumbing and trends', () => {
    const { template } = synth();
    const body = dashboardBody(template);
    const titles = body.widgets.map((w) => w.properties.title).filter((t) => typeof t === 'string');

    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'plugboard-dev' });
    expect(titles).toEqual([
      'Alarms',
      'At a glance',
      'Slowest plugins: duration p99 (ms)',
      'Plugin retries per plugin',
      'Plugin timeouts per plugin',
      'Stage inboxes: age of the oldest message (s)',
      'Lambda errors',
      'Lambda throttles',
      'Lambda duration p99 (ms)',
      'Status table: throttle events',
      'Status table: consumed capacity units',
      'Active runs per workflow',
      'Inactive runs (no progress for 10 min) per workflow',
      'Stuck runs (no progress for 20 min) per workflow',
      'Throughput: runs started and completed per minute',
      'Failures: runs failed and cancelled, failure rate',
      'Run duration p50 / p99 (ms)',
      'Stage duration p50 / p99 (ms)',
      'Stage overhead p50 / p99 (ms)',
      'Plugin errors per plugin',
      'Dead-letter queue depth',
    ]);
    const text = JSON.stringify(body);
    for (const workflow of WORKFLOWS) {
      expect(text).toContain(
        `["Plugboard","ActiveWorkflows","deploymentStage","dev","workflow","${workflow}"`,
      );
    }
    expect(text).toContain('MetricName=\\"PluginErrors\\" deploymentStage=\\"dev\\"');
    expect(text).toContain('MetricName=\\"PluginTimeouts\\"');
    expect(text).toContain("'p99'");
    expect(text).toContain('plugboard-dev-notify-post-inbox-dlq');
    expect(text).toContain("FunctionName=plugboard-dev'");
    const alarmWidget = body.widgets.find((w) => w.type === 'alarm');
    expect(alarmWidget?.properties.alarms).toHaveLength(15);
  });

  it('puts the alarms and the four numbers in the first row, above everything but the description', () => {
    const body = dashboardBody(synth().template) as {
      widgets: { type: string; y: number; properties: Record<string, unknown> }[];
    };
    const [text, alarms, glance] = body.widgets;

    expect(text?.type).toBe('text');
    expect([alarms?.type, glance?.type]).toEqual(['alarm', 'metric']);
    expect(alarms?.y).toBe(glance?.y);
    expect(Math.min(...body.widgets.slice(3).map((w) => w.y))).toBeGreaterThan(alarms?.y ?? 0);
    const glanceText = JSON.stringify(glance);
    expect(glance?.properties.view).toBe('singleValue');
    for (const label of [
      'Runs in flight',
      'Runs failed (last 1 hour)',
      'Stuck runs',
      'Dead-lettered messages',
    ]) {
      expect(glanceText).toContain(label);
    }
  });

  it('graphs the slowest plugins at p99 (sorted, top 10), retries and timeouts per plugin', () => {
    const text = JSON.stringify(dashboardBody(synth().template));

    expect(text).toMatch(
      /SORT\(SEARCH\('\{Plugboard,deploymentStage,service,activity,stage,plugin\} MetricName=\\"PluginDuration\\"[^']*', 'p99', 300\), MAX, DESC, 10\)/,
    );
    expect(text).toContain('MetricName=\\"PluginRetries\\"');
  });

  it("graphs the stage inboxes' oldest message age, the orchestrators' Lambda duration and the table's throttles and capacity", () => {
    const text = JSON.stringify(dashboardBody(synth().template));

    for (const activity of ACTIVITIES) {
      for (const stage of ['pre', 'parallel', 'post']) {
        expect(text).toContain(
          `["AWS/SQS","ApproximateAgeOfOldestMessage","QueueName","plugboard-dev-${activity}-${stage}-inbox"`,
        );
      }
    }
    expect(text).toContain("MetricName=\\\"Duration\\\" FunctionName=plugboard-dev', 'p99'");
    for (const metric of [
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      'ConsumedReadCapacityUnits',
      'ConsumedWriteCapacityUnits',
    ]) {
      expect(text).toContain(`["AWS/DynamoDB","${metric}","TableName","<token>"`);
    }
  });

  it('saves Logs Insights queries: one run by uid, each workflow, errors and warnings', () => {
    const { template } = synth({ logGroupNames: ['/aws/lambda/plugboard-dev-start'] });
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(
      (q) => q.Properties as { Name: string; QueryString: string; LogGroupNames?: string[] },
    );

    expect(queries.map((q) => q.Name).sort()).toEqual([
      'plugboard-dev/errors and warnings',
      'plugboard-dev/one run by uid',
      'plugboard-dev/workflow order',
      'plugboard-dev/workflow refund',
    ]);
    const byName = new Map(queries.map((q) => [q.Name, q]));
    expect(byName.get('plugboard-dev/one run by uid')?.QueryString).toContain(
      'filter uid = "REPLACE-WITH-UID"',
    );
    expect(byName.get('plugboard-dev/workflow refund')?.QueryString).toContain('filter workflow = "refund"');
    expect(byName.get('plugboard-dev/errors and warnings')?.QueryString).toContain(
      'filter level = "ERROR" or level = "WARN"',
    );
    for (const query of queries) expect(query.LogGroupNames).toEqual(['/aws/lambda/plugboard-dev-start']);
  });

  it("says in every alarm's notification where to look: the dashboard and the saved queries, with links", () => {
    const { template } = synth();

    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      const description = JSON.stringify(
        (alarm.Properties as { AlarmDescription: unknown }).AlarmDescription,
      );
      expect(description).toContain(
        'Where to look: the dashboard https://console.aws.amazon.com/cloudwatch/home?region=',
      );
      expect(description).toContain('#dashboards:name=plugboard-dev');
      expect(description).toContain('#logsV2:logs-insights');
      expect(description).toContain('saved queries \\"plugboard-dev/errors and warnings\\"');
    }
    const liveness = JSON.stringify(
      Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
        JSON.stringify(f.Properties).includes('PLUGBOARD_STUCK_MINUTES'),
      ),
    );
    expect(liveness).toContain('PLUGBOARD_WHERE_TO_LOOK');
    expect(liveness).toContain(
      'saved query \\"plugboard-dev/one run by uid\\" with {uid} for REPLACE-WITH-UID',
    );
    const stuck = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a) =>
      JSON.stringify(a.Properties).includes('no progress for the stuck threshold'),
    );
    expect(JSON.stringify(stuck)).toContain('npx plugboard --stage dev status <workflow> <uid>');
  });

  it('passes the AwsSolutions and Serverless cdk-nag packs, each acknowledgement with a reason', () => {
    // Plugins first: the first synth of an app is cached, so they must be in place before it.
    const { app } = build({ alarmEmail: 'ops@example.com' });
    Validations.of(app).addPlugins(
      new StrictNagPack(new AwsSolutionsChecks(app)),
      new StrictNagPack(new ServerlessChecks(app)),
    );

    const assembly = app.synth();

    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
    const reasons: string[] = [];
    const visit = (node: IConstruct): void => {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          reasons.push(...Object.values(entry.data as Record<string, string>));
      }
      for (const child of node.node.children) visit(child);
    };
    visit(app);
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason.length).toBeGreaterThanOrEqual(60);
  });

  it('synthesizes a template cfn-lint accepts, with app-wide tags applied (none on the dashboard)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'plugboard-metrics-'));
    const app = new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new MetricsStack(app, 'plugboard-dev-metrics', {
      deployment: { systemName: 'plugboard', stage: 'dev' },
      workflows: WORKFLOWS,
      activities: ACTIVITIES,
      alarmEmail: 'ops@example.com',
    });
    Tags.of(app).add('plugboard:deployment-stage', 'dev');

    app.synth();

    expect(() => cfnLint(outdir)).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { Tags: Match.absent() });
  });

  it('reports every invalid prop at once, naming the prop, the value and the fix', () => {
    const attempt = () =>
      synth({
        workflows: [],
        inactiveAfter: Duration.seconds(90),
        stuckAfter: Duration.minutes(5),
        failureRateThresholdPercent: 0,
        alarmEmail: 'not-an-email',
      });

    expect(attempt).toThrow(MetricsStackPropsError);
    expect(attempt).toThrow(/Invalid MetricsStack props \(5\)/);
    expect(attempt).toThrow(/inactiveAfter = "1 minute 30 seconds": must be a whole number of minutes/);
    expect(attempt).toThrow(
      /alarmEmail = "not-an-email": is not an email address; pass e.g. --context alarmEmail=/,
    );
    expect(attempt).toThrow(/workflows = \[\]: list at least one workflow name/);
  });
});
