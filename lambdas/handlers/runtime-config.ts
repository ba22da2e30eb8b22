/**
 * Handler configuration, read once from the environment the CDK constructs set, typed, and failing
 * fast with the name of the missing or malformed variable.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { EventBridgePublisher } from '../adapters/event-bridge-publisher.js';
import { FanOutEventPublisher } from '../adapters/fan-out-event-publisher.js';
import { SnsEventPublisher } from '../adapters/sns-event-publisher.js';
import { STAGE_NAMES, type StageName } from '../contracts/index.js';
import { DEFAULT_ACTIVITY_SETTINGS, type EngineConfig } from '../engine/config.js';
import type { EventPublisher } from '../engine/ports.js';

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

const packedConfigSchema = z.object({
  workflows: z.record(z.string(), z.array(z.string()).min(1)),
  activities: z.record(
    z.string(),
    z.object({
      deadlineSeconds: z.number().int().positive().default(DEFAULT_ACTIVITY_SETTINGS.deadlineSeconds),
      maxAttempts: z.number().int().positive().default(DEFAULT_ACTIVITY_SETTINGS.maxAttempts),
      retryBaseSeconds: z.number().positive().default(DEFAULT_ACTIVITY_SETTINGS.retryBaseSeconds),
    }),
  ),
});

type Env = Readonly<Record<string, string | undefined>>;

export function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(
      `Environment variable ${name} is not set; the Plugboard construct sets it on deploy.`,
    );
  }
  return value;
}

export interface CommonConfig {
  readonly system: string;
  readonly deploymentStage: string;
  readonly tableName: string;
  readonly eventsTopicArn: string;
  /** Where lifecycle events also go (`events.eventBridge` in the workflow config); absent when off. */
  readonly eventBridge?: EventBridgeTarget;
  readonly engine: EngineConfig;
}

export interface EventBridgeTarget {
  /** `default` or the name of the bus the core stack created. */
  readonly eventBusName: string;
  /** `source` of the entries: `plugboard.<system>`. */
  readonly source: string;
}

/** The two variables come together (the constructs set both or neither). */
function readEventBridgeTarget(env: Env): EventBridgeTarget | undefined {
  const bus = env.PLUGBOARD_EVENT_BUS_NAME;
  const source = env.PLUGBOARD_EVENT_SOURCE;
  if ((bus ?? '') === '' && (source ?? '') === '') return undefined;
  return {
    eventBusName: required(env, 'PLUGBOARD_EVENT_BUS_NAME'),
    source: required(env, 'PLUGBOARD_EVENT_SOURCE'),
  };
}

export function readCommonConfig(env: Env = process.env): CommonConfig {
  const template = required(env, 'PLUGBOARD_INBOX_URL_TEMPLATE');
  if (!template.includes('{activity}') || !template.includes('{stage}')) {
    throw new ConfigurationError(
      'PLUGBOARD_INBOX_URL_TEMPLATE must contain the placeholders {activity} and {stage}.',
    );
  }
  let packed: z.infer<typeof packedConfigSchema>;
  try {
    packed = packedConfigSchema.parse(JSON.parse(required(env, 'PLUGBOARD_CONFIG')));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(
      `PLUGBOARD_CONFIG is not a valid packed workflow config: ${(error as Error).message}`,
    );
  }
  const topics = required(env, 'PLUGBOARD_TOPIC_ARN_TEMPLATE');
  if (!topics.includes('{activity}') || !topics.includes('{stage}')) {
    throw new ConfigurationError(
      'PLUGBOARD_TOPIC_ARN_TEMPLATE must contain the placeholders {activity} and {stage}.',
    );
  }
  return {
    system: required(env, 'PLUGBOARD_SYSTEM'),
    deploymentStage: required(env, 'PLUGBOARD_DEPLOYMENT_STAGE'),
    tableName: required(env, 'PLUGBOARD_TABLE_NAME'),
    eventsTopicArn: required(env, 'PLUGBOARD_EVENTS_TOPIC_ARN'),
    ...withEventBridge(readEventBridgeTarget(env)),
    engine: {
      workflows: packed.workflows,
      activities: packed.activities,
      inboxUrl: (activity, stage) => template.replaceAll('{activity}', activity).replaceAll('{stage}', stage),
      topicArn: (activity, stage) => topics.replaceAll('{activity}', activity).replaceAll('{stage}', stage),
    },
  };
}

function withEventBridge(target: EventBridgeTarget | undefined): { eventBridge?: EventBridgeTarget } {
  return target === undefined ? {} : { eventBridge: target };
}

/**
 * The engine's event port: the SNS events topic, and the event bus too when `events.eventBridge` is
 * on. Handlers call it once per container, where they build their other adapters.
 */
export function createEventPublisher(
  common: Pick<CommonConfig, 'eventsTopicArn' | 'eventBridge'>,
  clients: { readonly sns: SNSClient; readonly eventBridge?: Pick<EventBridgeClient, 'send'> },
): EventPublisher {
  const sns = new SnsEventPublisher(common.eventsTopicArn, clients.sns);
  if (common.eventBridge === undefined) return sns;
  const bus = new EventBridgePublisher({
    ...common.eventBridge,
    client: clients.eventBridge ?? new EventBridgeClient({}),
  });
  return new FanOutEventPublisher([
    { name: 'sns', publisher: sns },
    { name: 'eventbridge', publisher: bus },
  ]);
}

export interface StageConfig {
  readonly activity: string;
  readonly stage: StageName;
  readonly topicArn: string;
  readonly quarantineUrl: string;
}

export function readStageConfig(env: Env = process.env): StageConfig {
  const stage = required(env, 'PLUGBOARD_STAGE');
  if (!(STAGE_NAMES as readonly string[]).includes(stage)) {
    throw new ConfigurationError(`PLUGBOARD_STAGE is "${stage}"; expected one of ${STAGE_NAMES.join(', ')}.`);
  }
  return {
    activity: required(env, 'PLUGBOARD_ACTIVITY'),
    stage: stage as StageName,
    topicArn: required(env, 'PLUGBOARD_TOPIC_ARN'),
    quarantineUrl: required(env, 'PLUGBOARD_QUARANTINE_URL'),
  };
}
