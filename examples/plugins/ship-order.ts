/**
 * fulfilment / post: ship-order, mandatory. Post stages run after every mandatory parallel plugin is
 * Complete. It reads reserve-stock's result through the status reader (read-only, granted by
 * `grantReadStatus`).
 */
import {
  createStatusReader,
  orchestratorWrapperSns,
  type PluginInfoInput,
} from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS } from './shared.js';

export const info = {
  name: 'ship-order',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

const status = createStatusReader();

export const handler = orchestratorWrapperSns(info, async (message) => {
  const stock = await status.getPlugin({ ...message, stage: 'parallel', plugin: 'reserve-stock' });
  const reservation = (stock?.result as { reservation?: string } | undefined)?.reservation;
  return { shipped: true, reservation: reservation ?? 'unknown' };
});
