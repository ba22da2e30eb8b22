/**
 * fulfilment / parallel: reserve-stock, mandatory, with the activity's attempts (3 by default). Its
 * result (at most 4 KB of JSON) is kept in the status. With `metadata.failStock = 'twice'` its first
 * two attempts fail (a retryable error) and the third succeeds: the run's history shows all three.
 */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, flag, pause } from './shared.js';

export const info = {
  name: 'reserve-stock',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  await pause(50); // the warehouse call
  if (flag(message, 'failStock') === 'twice' && context.attempt <= 2) {
    throw new Error(`warehouse busy (attempt ${context.attempt})`);
  }
  return { warehouse: 'ams-1', reservation: `res-${message.uid}` };
});
