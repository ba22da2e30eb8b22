/**
 * AWS::Events::Rule. A rule with a ScheduleExpression: the Lambda runner fires its targets on a timer
 * (`rate(...)`; `cron(...)` fails the deploy). A rule with an EventPattern: created on moto's
 * EventBridge backend (PutRule, PutTargets) on its bus, which matches every event put on the bus
 * against the pattern and delivers it to the rule's SQS queue targets; other target kinds fail the
 * deploy by name, because moto cannot deliver to them.
 */
import { PutRuleCommand, PutTargetsCommand, type Target } from '@aws-sdk/client-eventbridge';
import { isRecord, nested, type PropertyReader, TAGS_REASON } from './properties.js';
import { arn, generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

export const eventsRuleProvider: ResourceProvider = {
  types: ['AWS::Events::Rule'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name = p.optionalString('Name') ?? generatedName(context.stackName, context.logicalId, 64);
    const pattern = p.optionalJson('EventPattern');
    if (pattern !== undefined) return createPatternRule(context, name, pattern);
    const expression = p.optionalString('ScheduleExpression');
    if (expression === undefined)
      throw p.error(
        'ScheduleExpression',
        'is required (a rule needs a ScheduleExpression or an EventPattern)',
      );
    const bus = p.optionalString('EventBusName');
    if (bus !== undefined && bus !== 'default')
      throw p.error('EventBusName', 'only the default bus can carry schedules');
    const state = p.optionalString('State') ?? 'ENABLED';
    const targets = (p.optionalArray('Targets') ?? []).map((target, index) => {
      if (!isRecord(target)) throw p.error(`Targets[${index}]`, 'expected an object');
      const t = nested(p, `Targets[${index}]`, target);
      const id = t.string('Id');
      const targetArn = t.string('Arn');
      const input = t.optionalJson('Input');
      t.ignore('RoleArn', 'IAM is not evaluated');
      t.ignore(
        'RetryPolicy',
        'delivery to a local target does not fail; the target itself retries as an async invocation',
      );
      t.ignore('DeadLetterConfig', 'delivery to a local target does not fail');
      t.reject('InputPath', 'input paths are not emulated');
      t.reject('InputTransformer', 'input transformers are not emulated');
      t.done();
      p.ignored.push(...t.ignored);
      return { id, arn: targetArn, ...(input !== undefined ? { input } : {}) };
    });
    p.ignore('Description', 'descriptive only');
    p.ignore('RoleArn', 'IAM is not evaluated');
    p.ignore('Tags', TAGS_REASON);
    p.done();
    const ruleArn = arn(context.environment, 'events', `rule/${name}`);
    context.runner.addSchedule(
      { ruleName: name, ruleArn, expression, enabled: state === 'ENABLED' },
      targets,
    );
    return { physicalId: name, attributes: { Arn: ruleArn } };
  },
};

/** The bus name of an `EventBusName` property, which may also be the bus's ARN. */
function busNameOf(value: string | undefined): string {
  if (value === undefined) return 'default';
  const marker = ':event-bus/';
  return value.includes(marker) ? value.slice(value.indexOf(marker) + marker.length) : value;
}

async function createPatternRule(context: ProviderContext, name: string, pattern: string) {
  const p = context.properties;
  p.reject(
    'ScheduleExpression',
    'a rule has either an EventPattern or a ScheduleExpression locally, not both',
  );
  const bus = busNameOf(p.optionalString('EventBusName'));
  const state = p.optionalString('State') ?? 'ENABLED';
  const targets = (p.optionalArray('Targets') ?? []).map((target, index) => queueTarget(p, target, index));
  p.ignore('Description', 'descriptive only');
  p.ignore('RoleArn', 'IAM is not evaluated');
  p.ignore('Tags', TAGS_REASON);
  p.done();
  const events = context.clients.events;
  const created = await events.send(
    new PutRuleCommand({ Name: name, EventBusName: bus, EventPattern: pattern, State: state as 'ENABLED' }),
  );
  if (targets.length > 0) {
    const answer = await events.send(
      new PutTargetsCommand({ Rule: name, EventBusName: bus, Targets: targets }),
    );
    const failed = answer.FailedEntries ?? [];
    if (failed.length > 0)
      throw p.error(
        'Targets',
        `moto refused ${failed.map((f) => `${f.TargetId}: ${f.ErrorMessage}`).join('; ')}`,
      );
  }
  const ruleArn =
    created.RuleArn ??
    arn(context.environment, 'events', bus === 'default' ? `rule/${name}` : `rule/${bus}/${name}`);
  return { physicalId: bus === 'default' ? name : `${bus}|${name}`, attributes: { Arn: ruleArn } };
}

/** One target of an event-pattern rule: an SQS queue (the only kind moto delivers events to here). */
function queueTarget(p: PropertyReader, target: unknown, index: number): Target {
  const path = `Targets[${index}]`;
  if (!isRecord(target)) throw p.error(path, 'expected an object');
  const t = nested(p, path, target);
  const id = t.string('Id');
  const targetArn = t.string('Arn');
  if (!targetArn.startsWith('arn:aws:sqs:'))
    throw t.error(
      'Arn',
      'locally an event-pattern rule delivers to SQS queues only; target a queue (and consume it), or test this target on AWS',
    );
  t.reject(
    'Input',
    'a constant input is not emulated for event-pattern rules (the event itself is delivered)',
  );
  const sqs = t.optionalObject('SqsParameters');
  const groupId =
    sqs !== undefined && typeof sqs.MessageGroupId === 'string' ? sqs.MessageGroupId : undefined;
  t.ignore('RetryPolicy', 'delivery to a local queue does not fail');
  t.ignore('DeadLetterConfig', 'delivery to a local queue does not fail');
  t.reject('InputPath', 'input paths are not emulated');
  t.reject('InputTransformer', 'input transformers are not emulated');
  t.done();
  p.ignored.push(...t.ignored);
  return {
    Id: id,
    Arn: targetArn,
    ...(groupId !== undefined ? { SqsParameters: { MessageGroupId: groupId } } : {}),
  };
}
