/**
 * AWS::CloudWatch::Alarm (PutMetricAlarm) and AWS::CloudWatch::Dashboard (PutDashboard) on moto. moto
 * stores alarms but never evaluates them: an alarm's state stays INSUFFICIENT_DATA locally.
 */
import {
  ComparisonOperator,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  StandardUnit,
  Statistic,
} from '@aws-sdk/client-cloudwatch';
import { z } from 'zod';
import { type PropertyReader, TAGS_REASON } from './properties.js';
import { arn, generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

const dimensions = z.array(z.object({ Name: z.string(), Value: z.string() }));
const metricDataQuery = z.object({
  Id: z.string(),
  Expression: z.string().optional(),
  Label: z.string().optional(),
  ReturnData: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional(),
  Period: z.coerce.number().optional(),
  AccountId: z.string().optional(),
  MetricStat: z
    .object({
      Metric: z.object({
        MetricName: z.string().optional(),
        Namespace: z.string().optional(),
        Dimensions: dimensions.optional(),
      }),
      Period: z.coerce.number(),
      Stat: z.string(),
      Unit: z.enum(StandardUnit).optional(),
    })
    .optional(),
});

function read<T>(p: PropertyReader, name: string, schema: z.ZodType<T>): T | undefined {
  const value = p.raw(name);
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw p.error(name, `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const STATISTICS: ReadonlySet<string> = new Set(Object.values(Statistic));
const OPERATORS: ReadonlySet<string> = new Set(Object.values(ComparisonOperator));

function isStatistic(value: string): value is Statistic {
  return STATISTICS.has(value);
}

function isOperator(value: string): value is ComparisonOperator {
  return OPERATORS.has(value);
}

export const cloudWatchAlarmProvider: ResourceProvider = {
  types: ['AWS::CloudWatch::Alarm'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name = p.optionalString('AlarmName') ?? generatedName(context.stackName, context.logicalId, 255);
    const operator = p.string('ComparisonOperator');
    if (!isOperator(operator)) throw p.error('ComparisonOperator', `unknown operator ${operator}`);
    const statistic = p.optionalString('Statistic');
    if (statistic !== undefined && !isStatistic(statistic))
      throw p.error('Statistic', `unknown statistic ${statistic}`);
    const evaluationPeriods = p.optionalNumber('EvaluationPeriods');
    if (evaluationPeriods === undefined) throw p.error('EvaluationPeriods', 'is required');
    const metrics = read(p, 'Metrics', z.array(metricDataQuery));
    const input: PutMetricAlarmCommandInput = {
      AlarmName: name,
      AlarmDescription: p.optionalString('AlarmDescription'),
      ActionsEnabled: p.optionalBoolean('ActionsEnabled'),
      AlarmActions: p.optionalStringArray('AlarmActions'),
      OKActions: p.optionalStringArray('OKActions'),
      InsufficientDataActions: p.optionalStringArray('InsufficientDataActions'),
      MetricName: p.optionalString('MetricName'),
      Namespace: p.optionalString('Namespace'),
      Statistic: statistic,
      ExtendedStatistic: p.optionalString('ExtendedStatistic'),
      Dimensions: read(p, 'Dimensions', dimensions),
      Period: p.optionalNumber('Period'),
      EvaluationPeriods: evaluationPeriods,
      DatapointsToAlarm: p.optionalNumber('DatapointsToAlarm'),
      Threshold: p.optionalNumber('Threshold'),
      ThresholdMetricId: p.optionalString('ThresholdMetricId'),
      ComparisonOperator: operator,
      TreatMissingData: p.optionalString('TreatMissingData'),
      EvaluateLowSampleCountPercentile: p.optionalString('EvaluateLowSampleCountPercentile'),
      ...(metrics !== undefined ? { Metrics: metrics } : {}),
    };
    const unit = p.optionalString('Unit');
    if (unit !== undefined)
      p.ignored.push({
        property: 'Unit',
        reason: 'alarms are not evaluated locally, so the unit filter has no effect',
      });
    p.ignore('Tags', TAGS_REASON);
    p.done();
    await context.clients.cloudwatch.send(new PutMetricAlarmCommand(input));
    return { physicalId: name, attributes: { Arn: arn(context.environment, 'cloudwatch', `alarm:${name}`) } };
  },
};

export const cloudWatchDashboardProvider: ResourceProvider = {
  types: ['AWS::CloudWatch::Dashboard'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name =
      p.optionalString('DashboardName') ?? generatedName(context.stackName, context.logicalId, 255);
    const body = p.optionalJson('DashboardBody');
    if (body === undefined) throw p.error('DashboardBody', 'is required');
    p.done();
    const response = await context.clients.cloudwatch.send(
      new PutDashboardCommand({ DashboardName: name, DashboardBody: body }),
    );
    const problems = response.DashboardValidationMessages ?? [];
    if (problems.length > 0) {
      throw p.error(
        'DashboardBody',
        problems.map((problem) => `${problem.DataPath}: ${problem.Message}`).join('; '),
      );
    }
    return { physicalId: name, attributes: {} };
  },
};
