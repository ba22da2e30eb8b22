/** fulfilment / parallel: reserve-stock, mandatory. Its result (at most 4 KB of JSON) is kept in the status. */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, pause } from './shared.js';

export const info = {
  name: 'reserve-stock',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message) => {
  await pause(50); // the warehouse call
  return { warehouse: 'ams-1', reservation: `res-${message.uid}` };
});
