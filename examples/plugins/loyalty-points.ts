/**
 * fulfilment / parallel: loyalty-points, optional, behind the queue bridge. Two handlers from one file:
 *
 * - `bridge` is subscribed to the stage topic; it checks the status, reports In Progress and forwards
 *   the message to the plugin's own queue;
 * - `handler` consumes that queue (throttled by the event source) and reports Complete or Error.
 *
 * Use the bridge for slow or rate-limited work: the consumer's pace is yours, not the topic's.
 */
import {
  getOrchestratorSqsPassthrough,
  orchestratorWrapperSqs,
  type PluginInfoInput,
} from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, flag } from './shared.js';

export const info = {
  name: 'loyalty-points',
  default: { mandatory: false },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
  maxAttempts: 1,
} satisfies PluginInfoInput;

/** The subscribed function (queue URL from PLUGBOARD_PLUGIN_QUEUE_URL, set by OrchestratorQueuePlugin). */
export const bridge = getOrchestratorSqsPassthrough(info);

/** The queue's consumer. */
export const handler = orchestratorWrapperSqs(info, async (message) => {
  if (flag(message, 'failLoyalty') === true) throw new Error('loyalty service is down');
  return { points: 10 };
});
