/**
 * intake / pre: validate-order, a mandatory plugin that gates the whole run. A `PluginError` is a final
 * failure (not retried): the stage, and with it the run, fails with this message.
 */
import { orchestratorWrapperSns, PluginError, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, flag } from './shared.js';

export const info = {
  name: 'validate-order',
  description: 'Rejects orders that cannot be fulfilled',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  if (flag(message, 'rejectOrder') === true) {
    throw new PluginError(`order ${message.uid} rejected: no delivery address`, { code: 'NO_ADDRESS' });
  }
  context.logger.info('order is valid');
  return { valid: true };
});
