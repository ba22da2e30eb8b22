/**
 * The topology check: compares what is really wired in the local cloud (subscriptions and their
 * filter policies as moto holds them, event source mappings and schedules as the runner runs them,
 * queue redrive policies as moto holds them) with what the deployed templates declare, and lists
 * every difference. An empty list means the local wiring is the template's wiring.
 */
import {
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeployedStack } from './deployer.js';
import type { LambdaRunner } from './lambda-runner.js';
import { isRecord } from './resources/properties.js';

export interface TopologyDifference {
  readonly kind: 'subscription' | 'event-source-mapping' | 'redrive' | 'schedule';
  readonly problem: 'missing' | 'unexpected' | 'mismatch';
  /** The stack and logical ID of the template resource, when there is one. */
  readonly resource?: string;
  readonly detail: string;
}

export interface TopologyInput {
  readonly stacks: readonly DeployedStack[];
  readonly runner: LambdaRunner;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

interface SubscriptionShape {
  readonly resource?: string;
  readonly topicArn: string;
  readonly protocol: string;
  readonly endpoint: string;
  readonly filterPolicy: unknown;
  readonly filterPolicyScope: string | undefined;
  readonly rawMessageDelivery: boolean;
}

/** Stable JSON: object keys sorted, so two equal documents compare equal as text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const truthy = (value: unknown) => value === true || value === 'true';

function describeSubscription(s: SubscriptionShape): string {
  return `${s.topicArn} -> ${s.protocol}:${s.endpoint}`;
}

export async function checkTopology(input: TopologyInput): Promise<TopologyDifference[]> {
  const differences: TopologyDifference[] = [];
  const notCreated = (stack: DeployedStack, logicalId: string) =>
    !stack.resources.has(logicalId) && !stack.skippedByCondition.includes(logicalId);

  // What the templates declare.
  const expectedSubscriptions: SubscriptionShape[] = [];
  const topics = new Set<string>();
  for (const stack of input.stacks) {
    for (const [logicalId, declared] of Object.entries(stack.artifact.template.Resources)) {
      const name = `${stack.stackName}/${logicalId}`;
      if (!['AWS::SNS::Subscription', 'AWS::SNS::Topic'].includes(declared.Type)) continue;
      if (notCreated(stack, logicalId)) {
        differences.push({
          kind: 'subscription',
          problem: 'missing',
          resource: name,
          detail: `${declared.Type} was not created`,
        });
        continue;
      }
      const deployed = stack.resources.get(logicalId);
      const p = deployed?.properties;
      if (deployed === undefined || p === undefined) continue;
      if (declared.Type === 'AWS::SNS::Topic') {
        topics.add(deployed.physicalId);
        for (const inline of Array.isArray(p.Subscription) ? p.Subscription : []) {
          if (!isRecord(inline)) continue;
          expectedSubscriptions.push({
            resource: name,
            topicArn: deployed.physicalId,
            protocol: String(inline.Protocol),
            endpoint: String(inline.Endpoint),
            filterPolicy: undefined,
            filterPolicyScope: undefined,
            rawMessageDelivery: false,
          });
        }
        continue;
      }
      const topicArn = String(p.TopicArn);
      topics.add(topicArn);
      const filterPolicy = parseJson(p.FilterPolicy);
      const protocol = String(p.Protocol);
      expectedSubscriptions.push({
        resource: name,
        topicArn,
        protocol,
        endpoint: protocol === 'lambda' ? input.runner.functionArn(String(p.Endpoint)) : String(p.Endpoint),
        filterPolicy,
        filterPolicyScope:
          filterPolicy === undefined ? undefined : String(p.FilterPolicyScope ?? 'MessageAttributes'),
        rawMessageDelivery: truthy(p.RawMessageDelivery),
      });
    }
  }

  // What moto and the runner have.
  const hidden = new Map(input.runner.snsSubscriptions().map((info) => [info.subscriptionArn, info]));
  const actualSubscriptions: SubscriptionShape[] = [];
  for (const topicArn of topics) {
    let token: string | undefined;
    do {
      const page = await input.sns.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }),
      );
      for (const subscription of page.Subscriptions ?? []) {
        const arn = subscription.SubscriptionArn ?? '';
        const attributes =
          (await input.sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: arn }))).Attributes ??
          {};
        const filterPolicy = parseJson(attributes.FilterPolicy);
        const bridge = hidden.get(arn);
        const shape: SubscriptionShape = {
          topicArn,
          protocol: bridge !== undefined ? 'lambda' : (subscription.Protocol ?? ''),
          endpoint: bridge !== undefined ? bridge.functionArn : (subscription.Endpoint ?? ''),
          filterPolicy,
          filterPolicyScope:
            filterPolicy === undefined ? undefined : (attributes.FilterPolicyScope ?? 'MessageAttributes'),
          rawMessageDelivery: bridge !== undefined ? false : truthy(attributes.RawMessageDelivery),
        };
        actualSubscriptions.push(shape);
        if (bridge !== undefined && truthy(attributes.RawMessageDelivery)) {
          differences.push({
            kind: 'subscription',
            problem: 'mismatch',
            detail: `the hidden queue of ${describeSubscription(shape)} has raw delivery on; the runner needs the envelope`,
          });
        }
      }
      token = page.NextToken;
    } while (token !== undefined);
  }
  matchSubscriptions(expectedSubscriptions, actualSubscriptions, differences);

  // Event source mappings.
  const mappings = input.runner.eventSourceMappings();
  const unmatchedMappings = new Set(mappings);
  for (const stack of input.stacks) {
    for (const [logicalId, declared] of Object.entries(stack.artifact.template.Resources)) {
      if (declared.Type !== 'AWS::Lambda::EventSourceMapping') continue;
      const name = `${stack.stackName}/${logicalId}`;
      const p = stack.resources.get(logicalId)?.properties;
      if (notCreated(stack, logicalId) || p === undefined) {
        if (!stack.skippedByCondition.includes(logicalId)) {
          differences.push({
            kind: 'event-source-mapping',
            problem: 'missing',
            resource: name,
            detail: 'was not created',
          });
        }
        continue;
      }
      const functionArn = input.runner.functionArn(String(p.FunctionName));
      const queueArn = String(p.EventSourceArn);
      const found = mappings.find(
        (m) =>
          unmatchedMappings.has(m) &&
          m.queueArn === queueArn &&
          input.runner.functionArn(m.functionName) === functionArn,
      );
      if (found === undefined) {
        differences.push({
          kind: 'event-source-mapping',
          problem: 'missing',
          resource: name,
          detail: `${queueArn} -> ${functionArn} is not polled by the runner`,
        });
        continue;
      }
      unmatchedMappings.delete(found);
      const expected = {
        batchSize: Number(p.BatchSize ?? 10),
        maximumBatchingWindowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
        reportBatchItemFailures:
          Array.isArray(p.FunctionResponseTypes) &&
          p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
        enabled: p.Enabled === undefined ? true : truthy(p.Enabled),
      };
      const actual = {
        batchSize: found.batchSize,
        maximumBatchingWindowSeconds: found.maximumBatchingWindowSeconds,
        reportBatchItemFailures: found.reportBatchItemFailures,
        enabled: found.enabled,
      };
      if (canonical(expected) !== canonical(actual)) {
        differences.push({
          kind: 'event-source-mapping',
          problem: 'mismatch',
          resource: name,
          detail: `expected ${canonical(expected)}, runner has ${canonical(actual)}`,
        });
      }
    }
  }
  for (const mapping of unmatchedMappings) {
    differences.push({
      kind: 'event-source-mapping',
      problem: 'unexpected',
      detail: `the runner polls ${mapping.queueArn} -> ${mapping.functionName}, which no deployed template declares`,
    });
  }

  // Queue redrive policies.
  for (const stack of input.stacks) {
    for (const [logicalId, declared] of Object.entries(stack.artifact.template.Resources)) {
      if (declared.Type !== 'AWS::SQS::Queue') continue;
      const name = `${stack.stackName}/${logicalId}`;
      const deployed = stack.resources.get(logicalId);
      if (deployed === undefined || deployed.properties === undefined) {
        if (!stack.skippedByCondition.includes(logicalId)) {
          differences.push({
            kind: 'redrive',
            problem: 'missing',
            resource: name,
            detail: 'the queue was not created',
          });
        }
        continue;
      }
      const declaredPolicy = parseJson(deployed.properties.RedrivePolicy);
      const expected = isRecord(declaredPolicy)
        ? {
            deadLetterTargetArn: declaredPolicy.deadLetterTargetArn,
            maxReceiveCount: Number(declaredPolicy.maxReceiveCount),
          }
        : undefined;
      const attributes = await input.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: deployed.physicalId, AttributeNames: ['RedrivePolicy'] }),
      );
      const storedPolicy = parseJson(attributes.Attributes?.RedrivePolicy);
      const actual = isRecord(storedPolicy)
        ? {
            deadLetterTargetArn: storedPolicy.deadLetterTargetArn,
            maxReceiveCount: Number(storedPolicy.maxReceiveCount),
          }
        : undefined;
      if (canonical(expected) !== canonical(actual)) {
        differences.push({
          kind: 'redrive',
          problem: expected === undefined ? 'unexpected' : actual === undefined ? 'missing' : 'mismatch',
          resource: name,
          detail: `template says ${canonical(expected)}, moto has ${canonical(actual)}`,
        });
      }
    }
  }

  // Schedules.
  const schedules = input.runner.schedules();
  for (const stack of input.stacks) {
    for (const [logicalId, declared] of Object.entries(stack.artifact.template.Resources)) {
      if (declared.Type !== 'AWS::Events::Rule') continue;
      const deployed = stack.resources.get(logicalId);
      const name = `${stack.stackName}/${logicalId}`;
      if (deployed === undefined || deployed.properties === undefined) {
        if (!stack.skippedByCondition.includes(logicalId)) {
          differences.push({
            kind: 'schedule',
            problem: 'missing',
            resource: name,
            detail: 'the rule was not created',
          });
        }
        continue;
      }
      // Event-pattern rules live on moto's EventBridge backend, not in the runner's schedules.
      if (deployed.properties.EventPattern !== undefined) continue;
      const running = schedules.find((schedule) => schedule.ruleName === deployed.physicalId);
      const targets = Array.isArray(deployed.properties.Targets) ? deployed.properties.Targets : [];
      const expected = {
        expression: deployed.properties.ScheduleExpression,
        enabled: (deployed.properties.State ?? 'ENABLED') === 'ENABLED',
        targets: targets.map((target) => (isRecord(target) ? String(target.Arn) : '')).sort(),
      };
      const actual =
        running === undefined
          ? undefined
          : {
              expression: running.expression,
              enabled: running.enabled,
              targets: running.targets.map((t) => t.arn).sort(),
            };
      if (canonical(expected) !== canonical(actual)) {
        differences.push({
          kind: 'schedule',
          problem: actual === undefined ? 'missing' : 'mismatch',
          resource: name,
          detail: `template says ${canonical(expected)}, runner has ${canonical(actual)}`,
        });
      }
    }
  }
  return differences;
}

function matchSubscriptions(
  expected: readonly SubscriptionShape[],
  actual: readonly SubscriptionShape[],
  differences: TopologyDifference[],
): void {
  const remaining = [...actual];
  for (const want of expected) {
    const index = remaining.findIndex(
      (have) =>
        have.topicArn === want.topicArn && have.protocol === want.protocol && have.endpoint === want.endpoint,
    );
    const have = remaining[index];
    if (index < 0 || have === undefined) {
      differences.push({
        kind: 'subscription',
        problem: 'missing',
        ...(want.resource !== undefined ? { resource: want.resource } : {}),
        detail: `${describeSubscription(want)} is not subscribed`,
      });
      continue;
    }
    remaining.splice(index, 1);
    const wanted = {
      filterPolicy: want.filterPolicy,
      scope: want.filterPolicyScope,
      raw: want.rawMessageDelivery,
    };
    const found = {
      filterPolicy: have.filterPolicy,
      scope: have.filterPolicyScope,
      raw: have.rawMessageDelivery,
    };
    if (canonical(wanted) !== canonical(found)) {
      differences.push({
        kind: 'subscription',
        problem: 'mismatch',
        ...(want.resource !== undefined ? { resource: want.resource } : {}),
        detail: `${describeSubscription(want)}: template says ${canonical(wanted)}, moto has ${canonical(found)}`,
      });
    }
  }
  for (const extra of remaining) {
    differences.push({
      kind: 'subscription',
      problem: 'unexpected',
      detail: `${describeSubscription(extra)} exists but no deployed template declares it`,
    });
  }
}
