/**
 * AWS::Events::Rule with a ScheduleExpression: the Lambda runner fires its targets on a timer
 * (`rate(...)`; `cron(...)` fails the deploy). Event-pattern rules need an event bus, which the local
 * cloud does not emulate, so they fail the deploy by name.
 */
import { isRecord, nested, TAGS_REASON } from './properties.js';
import { arn, generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

export const eventsRuleProvider: ResourceProvider = {
  types: ['AWS::Events::Rule'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name = p.optionalString('Name') ?? generatedName(context.stackName, context.logicalId, 64);
    const expression = p.optionalString('ScheduleExpression');
    p.reject(
      'EventPattern',
      'event-pattern rules need an EventBridge bus, which the local cloud does not emulate',
    );
    if (expression === undefined)
      throw p.error('ScheduleExpression', 'is required (only schedule rules are emulated)');
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
