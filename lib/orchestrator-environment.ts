/**
 * The environment every orchestrator function receives, built in one place so the core and activity
 * stacks can never disagree. Handlers read these variables and never build ARNs or URLs themselves.
 */
import { Aws, Fn } from 'aws-cdk-lib';
import type { DeploymentRef } from '../plugin-kit/src/contracts/index.js';

/** Names of the variables the handlers read (the lead's handlers depend on them: never rename). */
export const ENV = {
  system: 'PLUGBOARD_SYSTEM',
  deploymentStage: 'PLUGBOARD_DEPLOYMENT_STAGE',
  tableName: 'PLUGBOARD_TABLE_NAME',
  eventsTopicArn: 'PLUGBOARD_EVENTS_TOPIC_ARN',
  inboxUrlTemplate: 'PLUGBOARD_INBOX_URL_TEMPLATE',
  /** ARN of any stage topic, with `{activity}` and `{stage}` placeholders (inline hand-off). */
  topicArnTemplate: 'PLUGBOARD_TOPIC_ARN_TEMPLATE',
  config: 'PLUGBOARD_CONFIG',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  nodeOptions: 'NODE_OPTIONS',
  /** Stage orchestrators only. */
  activity: 'PLUGBOARD_ACTIVITY',
  /** Stage orchestrators only: `pre`, `parallel` or `post`. */
  stage: 'PLUGBOARD_STAGE',
  /** Stage orchestrators only: the stage's SNS topic. */
  topicArn: 'PLUGBOARD_TOPIC_ARN',
  /** Start function and stage orchestrators: where messages that can never be processed go. */
  quarantineUrl: 'PLUGBOARD_QUARANTINE_URL',
  /** With `events.eventBridge` on: the bus lifecycle events also go to, and their `source`. */
  eventBusName: 'PLUGBOARD_EVENT_BUS_NAME',
  eventSource: 'PLUGBOARD_EVENT_SOURCE',
} as const;

/** Placeholders the handlers replace in {@link ENV.inboxUrlTemplate}. */
export const INBOX_URL_PLACEHOLDERS = { activity: '{activity}', stage: '{stage}' } as const;

export interface OrchestratorEnvironmentProps {
  readonly deployment: DeploymentRef;
  readonly tableName: string;
  readonly eventsTopicArn: string;
  /** Compact JSON of the validated workflow config. */
  readonly runtimeConfig: string;
}

/**
 * URL of any stage inbox of this deployment, with literal `{activity}` and `{stage}` placeholders:
 * `https://sqs.<region>.<url suffix>/<account>/<system>-<stage>-{activity}-{stage}-inbox`.
 * Inbox queues have deterministic names, so no stack needs a reference to another stack's queues.
 */
export function inboxUrlTemplate(deployment: DeploymentRef): string {
  return Fn.join('', [
    'https://sqs.',
    Aws.REGION,
    '.',
    Aws.URL_SUFFIX,
    '/',
    Aws.ACCOUNT_ID,
    '/',
    stageResourceName(deployment, 'inbox'),
  ]);
}

/**
 * ARN of any stage topic of this deployment, with literal `{activity}` and `{stage}` placeholders:
 * `arn:<partition>:sns:<region>:<account>:<system>-<stage>-{activity}-{stage}-topic`.
 */
export function topicArnTemplate(deployment: DeploymentRef): string {
  return Fn.join('', [
    'arn:',
    Aws.PARTITION,
    ':sns:',
    Aws.REGION,
    ':',
    Aws.ACCOUNT_ID,
    ':',
    stageResourceName(deployment, 'topic'),
  ]);
}

/** `<system>-<stage>-{activity}-{stage}-<kind>`: the name of any stage's inbox or topic, as a template. */
function stageResourceName(deployment: DeploymentRef, kind: 'inbox' | 'topic'): string {
  const { activity, stage } = INBOX_URL_PLACEHOLDERS;
  return `${deployment.systemName}-${deployment.stage}-${activity}-${stage}-${kind}`;
}

/** Variables shared by every orchestrator function (start, stage, sweeper, registrar). */
export function orchestratorEnvironment(props: OrchestratorEnvironmentProps): Record<string, string> {
  return {
    [ENV.system]: props.deployment.systemName,
    [ENV.deploymentStage]: props.deployment.stage,
    [ENV.tableName]: props.tableName,
    [ENV.eventsTopicArn]: props.eventsTopicArn,
    [ENV.inboxUrlTemplate]: inboxUrlTemplate(props.deployment),
    [ENV.topicArnTemplate]: topicArnTemplate(props.deployment),
    [ENV.config]: props.runtimeConfig,
    [ENV.serviceName]: props.deployment.systemName,
    [ENV.nodeOptions]: '--enable-source-maps',
  };
}
