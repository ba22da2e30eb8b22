import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DeploymentRef, EXPORTS, STAGE_NAMES } from '../plugin-kit/src/contracts/index.js';
import { Activity } from './activity.js';
import { NO_BATCHING, type StageBatching } from './activity-stage.js';
import { declaredActivities, runtimeConfigJson, type WorkflowConfig } from './config/workflow-config.js';
import { LifecycleEventBus } from './lifecycle-event-bus.js';
import { orchestratorEnvironment } from './orchestrator-environment.js';

export interface ActivityStackProps extends StackProps {
  /** Which Plugboard deployment this is: prefixes every export and queue name. */
  readonly deployment: DeploymentRef;
  /** The validated workflow config (handed to every function as `PLUGBOARD_CONFIG`). */
  readonly config: WorkflowConfig;
  /** The activity this stack deploys; must be declared in `config.activities`. */
  readonly activityName: string;
  /**
   * Whether the deployment stage is ephemeral: log groups are destroyed with the stack.
   * @default false
   */
  readonly ephemeral?: boolean;
}

/**
 * `<system>-<stage>-activity-<name>`: one {@link Activity} and its exports (the plugin API: stage topic
 * ARNs, inbox ARNs and URLs). It depends on the core stack only through core's exports, so activity
 * stacks never reference each other and can be deployed in any order after core.
 */
export class ActivityStack extends Stack {
  readonly activity: Activity;

  constructor(scope: Construct, id: string, props: ActivityStackProps) {
    super(scope, id, props);
    const d = props.deployment;
    const table = Table.fromTableAttributes(this, 'StatusTable', {
      tableArn: Fn.importValue(EXPORTS.statusTableArn(d)),
    });
    const eventsTopicArn = Fn.importValue(EXPORTS.eventsTopicArn(d));
    const eventsTopic = Topic.fromTopicArn(this, 'EventsTopic', eventsTopicArn);
    const key = Key.fromKeyArn(this, 'Key', Fn.importValue(EXPORTS.keyArn(d)));
    const eventBus =
      props.config.events.eventBridge === false
        ? undefined
        : LifecycleEventBus.fromExports(this, 'LifecycleEventBus', d);
    const settings = props.config.activities[props.activityName];

    this.activity = new Activity(this, 'Activity', {
      deployment: d,
      activityName: props.activityName,
      declaredActivities: declaredActivities(props.config),
      table,
      eventsTopic,
      key,
      environment: {
        ...orchestratorEnvironment({
          deployment: d,
          tableName: Fn.importValue(EXPORTS.statusTableName(d)),
          eventsTopicArn,
          runtimeConfig: runtimeConfigJson(props.config),
        }),
        ...eventBus?.environment(),
      },
      logRemovalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      parallelBatching: parallelBatchingOf(props.config, props.activityName),
      ...(settings ? { inboxMaximumConcurrency: settings.inboxMaximumConcurrency } : {}),
      senders: {
        engineRoleIds: [Fn.importValue(EXPORTS.sweeperRoleId(d))],
        operatorPrincipals: props.config.operatorPrincipals,
      },
    });

    // The stage orchestrators announce lifecycle events: on the bus too when it is on.
    if (eventBus)
      for (const stage of STAGE_NAMES) eventBus.grantPutEvents(this.activity.stages[stage].orchestrator);

    for (const stage of STAGE_NAMES) {
      const s = this.activity.stages[stage];
      const title = stage.charAt(0).toUpperCase() + stage.slice(1);
      new CfnOutput(this, `${title}TopicArn`, {
        value: s.topic.topicArn,
        exportName: EXPORTS.stageTopicArn(d, props.activityName, stage),
        description: `ARN of the ${stage} stage topic of ${props.activityName} (plugins subscribe here)`,
      });
      new CfnOutput(this, `${title}InboxArn`, {
        value: s.inbox.queue.queueArn,
        exportName: EXPORTS.inboxArn(d, props.activityName, stage),
        description: `ARN of the ${stage} stage inbox of ${props.activityName} (plugins report here)`,
      });
      new CfnOutput(this, `${title}InboxUrl`, {
        value: s.inbox.queue.queueUrl,
        exportName: EXPORTS.inboxUrl(d, props.activityName, stage),
        description: `URL of the ${stage} stage inbox of ${props.activityName} (plugins report here)`,
      });
    }
  }
}

/** The parallel stage's batching from the activity's `parallelBatching` setting. */
function parallelBatchingOf(config: WorkflowConfig, activity: string): StageBatching {
  const setting = config.activities[activity]?.parallelBatching;
  if (!setting) return NO_BATCHING;
  return { window: Duration.seconds(setting.windowSeconds), batchSize: setting.batchSize };
}
