import { PLUGIN_ENV } from '../contracts/environment.js';
import { ReportDeliveryError, UnsupportedEventError } from './errors.js';
import { isInitializeEvent, type LambdaContextLike, snsDeliveries } from './events.js';
import type { AnyPluginInfoInput } from './plugin-info.js';
import { type Action, processDelivery, type Runtime, runHandler, runtimeFor } from './task.js';
import type { PluginHandler, PluginRuntimeOptions, SnsPluginHandler } from './types.js';

/**
 * Turns a plain async function into the Lambda handler of an SNS-subscribed plugin. For every
 * message that targets the plugin it applies the skip rules, reports `In Progress`, runs `handler`
 * and reports `Complete` (with the returned result) or `Error`. It answers the registrar's
 * `{"initialize": true}` call with the parsed `PluginInfo`. It throws only when a report cannot be
 * sent, so that Lambda delivers the message again.
 *
 * @param info - the plugin's `PluginInfo` (validated now: an invalid one throws `InvalidPluginInfoError`)
 * @param handler - the business logic; its return value is the result
 * @param options - ports and clients, mostly for tests (see the testing harness)
 *
 * @example
 * ```ts
 * import { orchestratorWrapperSns, PluginError } from '@plugboard/plugin-kit';
 *
 * export const handler = orchestratorWrapperSns(
 *   { name: 'check-credit', default: { mandatory: true } },
 *   async (message, context) => {
 *     const score = await creditScore(String(message.metadata.customerId));
 *     if (score < 500) throw new PluginError(`credit score ${score} is below 500`);
 *     context.logger.info('credit checked', { score });
 *     return { score };
 *   },
 * );
 * ```
 */
export function orchestratorWrapperSns<R>(
  info: AnyPluginInfoInput,
  handler: PluginHandler<R>,
  options: PluginRuntimeOptions = {},
): SnsPluginHandler {
  return snsHandler(runtimeFor(info, options), runHandler(handler), 'sns', (o) =>
    orchestratorWrapperSns(info, handler, { ...options, ...o }),
  );
}

/** The SNS side shared by the plain wrapper and the queue bridge. */
export function snsHandler<K extends 'sns' | 'bridge', Self>(
  runtime: Runtime,
  action: Action,
  kind: K,
  withOptions: (options: PluginRuntimeOptions) => Self,
) {
  const { info } = runtime;
  const handle = async (event: unknown, context?: LambdaContextLike) => {
    if (isInitializeEvent(event)) return info;
    const deliveries = snsDeliveries(event);
    if (deliveries === undefined) {
      throw new UnsupportedEventError(
        `${info.name}: expected an SNS event (Records[].Sns.Message) or {"initialize": true}; subscribe this function to the stage topic`,
      );
    }
    const undelivered: string[] = [];
    const expectedTopic = runtime.options.stageTopicArn ?? process.env[PLUGIN_ENV.stageTopicArn];
    const topics = topicArnsOf(event);
    for (const [index, delivery] of deliveries.entries()) {
      // Only the stage topic dispatches: anything else (a direct invoke, another topic) is not a task.
      if (expectedTopic && topics[index] !== expectedTopic) {
        runtime.logger.warn('message refused: it did not come from the stage topic of this plugin', {
          plugin: info.name,
          messageId: delivery.id,
          topicArn: (topics[index] ?? '(none)').slice(0, 256),
        });
        continue;
      }
      const outcome = await processDelivery(runtime, delivery, context, action);
      if (outcome.type === 'undelivered') undelivered.push(outcome.error);
    }
    if (undelivered.length > 0) {
      throw new ReportDeliveryError(
        `${undelivered.length} of ${deliveries.length} messages could not be reported (${undelivered.join('; ')}); throwing so that SNS delivers them again`,
        undefined,
      );
    }
    return undefined;
  };
  return Object.assign(handle, { kind, info, withOptions });
}

/** The `TopicArn` of each record of an SNS event (in record order), as the event says. */
function topicArnsOf(event: unknown): (string | undefined)[] {
  const records = (event as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return [];
  return records.map((record: unknown) => {
    const topic = (record as { Sns?: { TopicArn?: unknown } } | null)?.Sns?.TopicArn;
    return typeof topic === 'string' ? topic : undefined;
  });
}
