import { PLUGIN_ENV } from '../contracts/index.js';
import { ConfigurationError } from './errors.js';
import { IN_PROGRESS_REPORTED_ATTRIBUTE } from './events.js';
import { fifoDeduplicationId, fifoMessageGroupId, isFifoQueueUrl } from './fifo.js';
import type { AnyPluginInfoInput } from './plugin-info.js';
import { type Action, type Runtime, runtimeFor, send } from './task.js';
import type { PluginRuntimeOptions, QueueBridgeHandler } from './types.js';
import { snsHandler } from './wrapper-sns.js';

/**
 * The queue bridge: an SNS-subscribed handler that applies the skip rules, reports `In Progress` and
 * forwards the plugin message to the plugin's own SQS queue, where a consumer wrapped with
 * `orchestratorWrapperSqs` (same `PluginInfo`) takes its time, throttled by the event source. To a
 * FIFO queue (URL ending in `.fifo`) it sends `MessageGroupId` = `info.fifoKey` or the run's uid and
 * a deterministic `MessageDeduplicationId`. When the forward fails it throws, so SNS retries.
 *
 * @param info - the plugin's `PluginInfo` (the consumer must use the same one)
 * @param queueUrl - the plugin's queue. @default `options.pluginQueueUrl`, else the
 *   `PLUGBOARD_PLUGIN_QUEUE_URL` environment variable (set by `OrchestratorQueuePlugin`)
 *
 * @example
 * ```ts
 * // bridge.ts: subscribed to the stage topic
 * export const handler = getOrchestratorSqsPassthrough(info);
 * // consumer.ts: fed by the plugin's queue
 * export const handler = orchestratorWrapperSqs(info, async (message) => slowWork(message));
 * ```
 */
export function getOrchestratorSqsPassthrough(
  info: AnyPluginInfoInput,
  queueUrl?: string,
  options: PluginRuntimeOptions = {},
): QueueBridgeHandler {
  const runtime = runtimeFor(info, options);
  return snsHandler(runtime, forward(runtime, queueUrl), 'bridge', (more) =>
    getOrchestratorSqsPassthrough(info, queueUrl, { ...options, ...more }),
  );
}

function forward(runtime: Runtime, queueUrl: string | undefined): Action {
  const { info } = runtime;
  return async ({ delivery, message, context, report }) => {
    const target = queueUrl ?? runtime.options.pluginQueueUrl ?? process.env[PLUGIN_ENV.pluginQueueUrl];
    if (!target) {
      const error = new ConfigurationError(
        `${PLUGIN_ENV.pluginQueueUrl} is not set and no queue URL was given to getOrchestratorSqsPassthrough`,
        PLUGIN_ENV.pluginQueueUrl,
      );
      context.logger.error('the queue bridge has no queue; reporting Error', { error });
      await report({ status: 'Error', retryable: false, message: error.message });
      return { type: 'failed', deliveryId: delivery.id, retryable: false, error: error.message };
    }
    const fifo = isFifoQueueUrl(target)
      ? {
          messageGroupId: fifoMessageGroupId(info, message),
          messageDeduplicationId: fifoDeduplicationId(message, info.name),
        }
      : {};
    await send(
      runtime,
      {
        queueUrl: target,
        body: delivery.body,
        ...fifo,
        messageAttributes: { [IN_PROGRESS_REPORTED_ATTRIBUTE]: String(info.reportInProgress) },
      },
      'the plugin message',
    );
    context.logger.info('forwarded the message to the plugin queue', { queueUrl: target });
    return { type: 'forwarded', deliveryId: delivery.id, queueUrl: target };
  };
}
