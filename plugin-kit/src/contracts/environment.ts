/**
 * Environment variables that connect a plugin's deployment to its runtime. The plugin kit's CDK
 * constructs set them; its wrappers read them (and so may the local cloud's Lambda runner).
 */
export const PLUGIN_ENV = {
  /** Name of the status table, read (GetItem/Query only) by the wrappers and the status reader. */
  statusTable: 'PLUGBOARD_STATUS_TABLE',
  /** URL of a queue-bridge plugin's own SQS queue (`OrchestratorQueuePlugin` sets it on the bridge). */
  pluginQueueUrl: 'PLUGBOARD_PLUGIN_QUEUE_URL',
  /** ARN of the stage topic the plugin is subscribed to (the CDK construct sets it): other records are refused. */
  stageTopicArn: 'PLUGBOARD_STAGE_TOPIC_ARN',
} as const;
