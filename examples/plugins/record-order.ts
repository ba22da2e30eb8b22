/** intake / parallel: record-order, a mandatory plugin that "stores" the order and returns its id. */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS } from './shared.js';

export const info = {
  name: 'record-order',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message) => ({ orderId: `ord-${message.uid}` }));
