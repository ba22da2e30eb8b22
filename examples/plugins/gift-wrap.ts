/**
 * fulfilment / parallel: gift-wrap, optional. Its subscription's filter policy (see plugins-stack.ts)
 * lets only runs with `metadata.giftWrap = true` through; for the others the orchestrator does not
 * dispatch or await it (the status says Do Not Run).
 */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS } from './shared.js';

export const info = {
  name: 'gift-wrap',
  default: { mandatory: false },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async () => ({ paper: 'blue stars' }));
