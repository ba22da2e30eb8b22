/**
 * fulfilment / parallel: track-courier, optional. With `metadata.hangCourier = true` it never answers
 * in time (it answers 8 s after its 5 s deadline); the orchestrator's sweeper marks it Timed Out,
 * ignores the late report, and because it is optional
 * the run goes on.
 */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { flag, pause } from './shared.js';

export const info = {
  name: 'track-courier',
  default: { mandatory: false },
  deadlineSeconds: 5,
  maxAttempts: 1,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  if (flag(message, 'hangCourier') === true) {
    // Stuck on a courier API that answers far too late: 8 s past the deadline (the function's timeout
    // is 15 s), by when the sweeper has marked the attempt Timed Out and the late report is ignored.
    await pause((context.remainingTimeMs() ?? 5000) + 8000);
  }
  return { courier: 'bike' };
});
