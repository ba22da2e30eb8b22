import { UnsupportedEventError } from './errors.js';
import { isInitializeEvent, type LambdaContextLike, type SqsBatchResponse, sqsDeliveries } from './events.js';
import type { AnyPluginInfoInput } from './plugin-info.js';
import { processDelivery, runHandler, runtimeFor } from './task.js';
import type { PluginHandler, PluginRuntimeOptions, SqsPluginHandler } from './types.js';

/**
 * Turns a plain async function into the Lambda handler of an SQS-fed plugin (for example the consumer
 * behind the queue bridge). Records are processed one after another with the same rules as
 * {@link orchestratorWrapperSns}; a body may be the plugin message itself or an SNS notification
 * envelope (raw delivery off). Only records whose reports could not be sent are returned in
 * `batchItemFailures` (the event source needs `reportBatchItemFailures`); on a FIFO queue every record
 * after the first such failure is returned too, to keep the group's order.
 *
 * @example
 * ```ts
 * import { orchestratorWrapperSqs } from '@plugboard/plugin-kit';
 *
 * export const handler = orchestratorWrapperSqs(
 *   { name: 'render-pdf', default: { mandatory: false }, fifoKey: 'renderer' },
 *   async (message) => ({ url: await renderPdf(message.uid) }),
 * );
 * ```
 */
export function orchestratorWrapperSqs<R>(
  info: AnyPluginInfoInput,
  handler: PluginHandler<R>,
  options: PluginRuntimeOptions = {},
): SqsPluginHandler {
  const runtime = runtimeFor(info, options);
  const parsed = runtime.info;
  const action = runHandler(handler);
  const handle = async (event: unknown, context?: LambdaContextLike) => {
    if (isInitializeEvent(event)) return parsed;
    const batch = sqsDeliveries(event);
    if (batch === undefined) {
      throw new UnsupportedEventError(
        `${parsed.name}: expected an SQS event (Records[].body) or {"initialize": true}; use orchestratorWrapperSns for SNS subscriptions`,
      );
    }
    const response: SqsBatchResponse = { batchItemFailures: [] };
    let holdTheRest = false;
    for (const delivery of batch.deliveries) {
      if (holdTheRest) {
        response.batchItemFailures.push({ itemIdentifier: delivery.id });
        continue;
      }
      const outcome = await processDelivery(runtime, delivery, context, action);
      if (outcome.type === 'undelivered') {
        response.batchItemFailures.push({ itemIdentifier: delivery.id });
        holdTheRest = batch.fifo;
      }
    }
    return response;
  };
  return Object.assign(handle, {
    kind: 'sqs' as const,
    info: parsed,
    withOptions: (more: PluginRuntimeOptions) =>
      orchestratorWrapperSqs(info, handler, { ...options, ...more }),
  });
}
