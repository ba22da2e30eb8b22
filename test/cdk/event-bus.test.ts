/**
 * `events.eventBridge`: the bus the core stack creates (or the default bus), its exports, the
 * PutEvents grants (that bus only, the deployment's source only, the functions that announce events
 * only), the variables the handlers read, and a consumer's rule on the bus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../lambdas/adapters/event-bridge-publisher.js';
import { parseWorkflowConfig } from '../../lib/config/index.js';
import type { PlugboardStacks } from '../../lib/plugboard-app.js';
import shippedConfig from '../../plugboard.config.js';
import { EXPORTS, eventSource } from '../../plugin-kit/src/contracts/index.js';
import { allowing, logicalIdOf, roleStatements, type SynthResult, synthApp } from '../support/synth.js';

const D = { systemName: 'plugboard', stage: 'dev' } as const;
const SOURCE_CONDITION = {
  'ForAllValues:StringEquals': { 'events:source': ['plugboard.plugboard'] },
  Null: { 'events:source': 'false' },
};
const withEventBridge = (mode: unknown) => ({ ...shippedConfig, events: { eventBridge: mode } });
const synth = (mode: unknown, extra: Partial<Parameters<typeof synthApp>[0]> = {}): SynthResult =>
  synthApp({ stage: 'dev', nag: false, builtinValidation: false, config: withEventBridge(mode), ...extra });

function exportsOf(template: Template): Record<string, unknown> {
  return Object.fromEntries(
    Object.values(template.findOutputs('*')).map((o) => [
      (o as { Export: { Name: string } }).Export.Name,
      o.Value,
    ]),
  );
}

/** Every orchestrator of the app with its stack's template and role logical ID. */
function orchestrators(stacks: PlugboardStacks) {
  const core = Template.fromStack(stacks.core);
  const entries = [
    { name: 'start', template: core, role: logicalIdOf(stacks.core.startFunction.role) },
    { name: 'sweeper', template: core, role: logicalIdOf(stacks.core.sweeperFunction.role) },
    { name: 'registrar', template: core, role: logicalIdOf(stacks.core.registrarFunction.role) },
  ];
  for (const activity of stacks.activities) {
    const template = Template.fromStack(activity);
    for (const [stage, s] of Object.entries(activity.activity.stages))
      entries.push({
        name: `${activity.stackName}/${stage}`,
        template,
        role: logicalIdOf(s.orchestrator.role),
      });
  }
  return entries;
}

describe("events.eventBridge: 'create'", () => {
  const { stacks } = synth('create');
  const core = Template.fromStack(stacks.core);
  const bus = stacks.core.eventBus?.eventBus;

  it('creates the bus <system>-<stage>-events in the core stack', () => {
    core.resourceCountIs('AWS::Events::EventBus', 1);
    core.hasResourceProperties('AWS::Events::EventBus', { Name: 'plugboard-dev-events' });
  });

  it('exports its name and ARN under the stable export names', () => {
    const id = logicalIdOf(bus as EventBus);
    const exported = exportsOf(core);
    expect(exported[EXPORTS.eventBusName(D)]).toEqual({ Ref: id });
    expect(exported[EXPORTS.eventBusArn(D)]).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
    expect(EXPORTS.eventBusName(D)).toBe('plugboard-dev-event-bus-name');
    expect(EXPORTS.eventBusArn(D)).toBe('plugboard-dev-event-bus-arn');
  });

  it('lets the start function put events on that bus only, with the source plugboard.<system> only', () => {
    const statements = allowing(
      roleStatements(core, logicalIdOf(stacks.core.startFunction.role)),
      'events:PutEvents',
    );
    expect(statements).toEqual([
      expect.objectContaining({
        Resource: { 'Fn::GetAtt': [logicalIdOf(bus as EventBus), 'Arn'] },
        Condition: SOURCE_CONDITION,
      }),
    ]);
  });

  it("lets every stage orchestrator put events on the bus imported from core's export, with the source condition", () => {
    for (const activity of stacks.activities) {
      const template = Template.fromStack(activity);
      for (const s of Object.values(activity.activity.stages)) {
        const statements = allowing(
          roleStatements(template, logicalIdOf(s.orchestrator.role)),
          'events:PutEvents',
        );
        expect(statements, s.node.path).toEqual([
          expect.objectContaining({
            Resource: { 'Fn::ImportValue': 'plugboard-dev-event-bus-arn' },
            Condition: SOURCE_CONDITION,
          }),
        ]);
      }
    }
  });

  it('grants PutEvents to nothing that does not announce lifecycle events (sweeper, registrar)', () => {
    for (const name of ['sweeperFunction', 'registrarFunction'] as const) {
      const role = logicalIdOf(stacks.core[name].role);
      expect(allowing(roleStatements(core, role), 'events:PutEvents'), name).toEqual([]);
    }
  });

  it('hands every orchestrator the bus name and the source', () => {
    core.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PLUGBOARD_EVENT_BUS_NAME: { Ref: logicalIdOf(bus as EventBus) },
          PLUGBOARD_EVENT_SOURCE: 'plugboard.plugboard',
        }),
      },
    });
    const activity = Template.fromStack(stacks.activities[0] as Stack);
    const functions = Object.values(activity.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        PLUGBOARD_EVENT_BUS_NAME: { 'Fn::ImportValue': 'plugboard-dev-event-bus-name' },
        PLUGBOARD_EVENT_SOURCE: 'plugboard.plugboard',
      });
    }
  });

  it("lets a consumer's rule on the bus match Plugboard's source and detail-types, and deliver to a queue", () => {
    const consumer = new Stack(new App(), 'Consumer');
    const queue = new Queue(consumer, 'RunEvents', { enforceSSL: true });
    new Rule(consumer, 'RunEnded', {
      eventBus: EventBus.fromEventBusArn(consumer, 'Bus', Fn.importValue(EXPORTS.eventBusArn(D))),
      eventPattern: {
        source: [eventSource(D)],
        detailType: [DETAIL_TYPES['run.completed'], DETAIL_TYPES['run.failed']],
      },
      targets: [new SqsQueue(queue)],
    });
    const template = Template.fromStack(consumer);

    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { 'Fn::Select': Match.anyValue() },
      EventPattern: {
        source: ['plugboard.plugboard'],
        'detail-type': ['Plugboard Run Completed', 'Plugboard Run Failed'],
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(queue), 'Arn'] } })],
    });
  });
});

describe("events.eventBridge: 'default'", () => {
  const { stacks } = synth('default');
  const core = Template.fromStack(stacks.core);
  const defaultBusArn = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':events:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':event-bus/default',
      ],
    ],
  };

  it('creates no bus and exports the default one', () => {
    core.resourceCountIs('AWS::Events::EventBus', 0);
    const exported = exportsOf(core);
    expect(exported[EXPORTS.eventBusName(D)]).toBe('default');
    expect(exported[EXPORTS.eventBusArn(D)]).toEqual(defaultBusArn);
  });

  it('grants PutEvents on the default bus with the source condition', () => {
    const statements = allowing(
      roleStatements(core, logicalIdOf(stacks.core.startFunction.role)),
      'events:PutEvents',
    );
    expect(statements).toEqual([
      expect.objectContaining({
        Resource: defaultBusArn,
        Condition: SOURCE_CONDITION,
      }),
    ]);
  });
});

describe('events.eventBridge off (the default)', () => {
  it('adds no bus, no export, no grant and no variable', () => {
    const { stacks, assembly } = synthApp({ stage: 'dev', nag: false, builtinValidation: false });

    expect(stacks.config.events.eventBridge).toBe(false);
    expect(stacks.core.eventBus).toBeUndefined();
    for (const { name, template, role } of orchestrators(stacks))
      expect(allowing(roleStatements(template, role), 'events:PutEvents'), name).toEqual([]);
    for (const stack of assembly.stacks) {
      const text = JSON.stringify(stack.template);
      expect(text, stack.stackName).not.toContain('PLUGBOARD_EVENT_BUS_NAME');
      expect(text, stack.stackName).not.toContain('event-bus-');
    }
  });
});

describe('the events option in the workflow config', () => {
  it('refuses a mode it does not know, naming the modes', () => {
    expect(() => parseWorkflowConfig(withEventBridge('custom'))).toThrow(
      /events\.eventBridge.*false \(SNS topic only\), 'default' .* or 'create'/s,
    );
  });

  it("passes cdk-nag with 'create' (no finding unacknowledged)", () => {
    const { assembly } = synth('create', { nag: true });
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
  });
});
