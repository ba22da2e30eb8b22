/**
 * Names of the CloudFormation exports that make up the plugin API (docs/exports.md). The core and
 * activity stacks create them; plugin stacks import them. A released name never changes.
 */
import type { StageName } from './states.js';

/** Which deployment of Plugboard: `systemName` (default `plugboard`) and the deployment stage (`dev`, `prod`…). */
export interface DeploymentRef {
  readonly systemName: string;
  readonly stage: string;
}

const prefix = (d: DeploymentRef): string => `${d.systemName}-${d.stage}`;

export const EXPORTS = {
  statusTableName: (d: DeploymentRef) => `${prefix(d)}-status-table-name`,
  statusTableArn: (d: DeploymentRef) => `${prefix(d)}-status-table-arn`,
  eventsTopicArn: (d: DeploymentRef) => `${prefix(d)}-events-topic-arn`,
  startQueueUrl: (d: DeploymentRef) => `${prefix(d)}-start-queue-url`,
  startQueueArn: (d: DeploymentRef) => `${prefix(d)}-start-queue-arn`,
  startFunctionArn: (d: DeploymentRef) => `${prefix(d)}-start-function-arn`,
  startFunctionName: (d: DeploymentRef) => `${prefix(d)}-start-function-name`,
  registrarServiceToken: (d: DeploymentRef) => `${prefix(d)}-registrar-service-token`,
  /**
   * The registrar's role ARN: a plugin registered by `FunctionArn` (the `initialize` call) lets it
   * invoke the function with an `AWS::Lambda::Permission` naming this principal (ADR 0011).
   */
  registrarRoleArn: (d: DeploymentRef) => `${prefix(d)}-registrar-role-arn`,
  /** The sweeper's role id: stage orchestrators accept its timeout commands (not for plugins). */
  sweeperRoleId: (d: DeploymentRef) => `${prefix(d)}-sweeper-role-id`,
  /** The KMS key that encrypts topics and queues; plugins that send reports need to use it. */
  keyArn: (d: DeploymentRef) => `${prefix(d)}-key-arn`,
  /**
   * The EventBridge bus that carries the lifecycle events (`events.eventBridge` in the workflow
   * config): `default` or {@link eventBusName}. Exported only when the option is on.
   */
  eventBusName: (d: DeploymentRef) => `${prefix(d)}-event-bus-name`,
  eventBusArn: (d: DeploymentRef) => `${prefix(d)}-event-bus-arn`,
  /** The stage topic ARN: `-pre-processing`, `-parallel-processing`, `-post-processing` (predecessor's names). */
  stageTopicArn: (d: DeploymentRef, activity: string, stage: StageName) =>
    `${prefix(d)}-${activity}-${stage}-processing`,
  inboxArn: (d: DeploymentRef, activity: string, stage: StageName) =>
    `${prefix(d)}-${activity}-${stage}-inbox-arn`,
  inboxUrl: (d: DeploymentRef, activity: string, stage: StageName) =>
    `${prefix(d)}-${activity}-${stage}-inbox-url`,
} as const;

/** Physical name of a stage inbox queue (deterministic: the engine routes commands by it). */
export const inboxQueueName = (d: DeploymentRef, activity: string, stage: StageName): string =>
  `${prefix(d)}-${activity}-${stage}-inbox`;

/**
 * Physical name of a stage topic (deterministic: the orchestrator that completes a stage publishes the
 * next stage's dispatch itself, and the next stage may live in another activity stack).
 */
export const stageTopicName = (d: DeploymentRef, activity: string, stage: StageName): string =>
  `${prefix(d)}-${activity}-${stage}-topic`;

/** Physical name of the start queue (its dead-letter queue is `<name>-dlq`, alarmed by the metrics stack). */
export const startQueueName = (d: DeploymentRef): string => `${prefix(d)}-start`;

/** Physical name of the event bus the core stack creates with `events.eventBridge: 'create'`. */
export const eventBusName = (d: DeploymentRef): string => `${prefix(d)}-events`;

/**
 * The `source` of every lifecycle event Plugboard puts on EventBridge: `plugboard.<system>`. Rules
 * match on it; the orchestrators may put events with this source only (an `events:source` condition).
 */
export const eventSource = (d: Pick<DeploymentRef, 'systemName'>): string => `plugboard.${d.systemName}`;

/**
 * Tag that marks a plugin's function and its reporting roles as belonging to one deployment; the
 * status table's resource policy denies writes to any principal whose role carries it (docs/security.md).
 */
export const PLUGIN_TAG_KEY = 'plugboard:system';
export const pluginTagValue = (d: DeploymentRef): string => prefix(d);

/** CloudFormation resource type of a plugin registration. */
export const REGISTRATION_RESOURCE_TYPE = 'Custom::PlugboardPluginRegistration';
