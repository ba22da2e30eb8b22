/** notify / post: send-confirmation, mandatory: the last plugin of the order workflow. */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS } from './shared.js';

export const info = {
  name: 'send-confirmation',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  context.logger.info('confirmation sent', { uid: message.uid });
  return { channel: 'email' };
});
