/**
 * notify / parallel: request-review, optional. With `metadata.failReview = true` it fails; an optional
 * plugin's failure is recorded (Optional Task Error on its stage) and the run still completes.
 */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, flag } from './shared.js';

export const info = {
  name: 'request-review',
  default: { mandatory: false },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
  maxAttempts: 1,
} satisfies PluginInfoInput;

export const handler = orchestratorWrapperSns(info, async (message) => {
  if (flag(message, 'failReview') === true) throw new Error('review service returned HTTP 503');
  return { requested: true };
});
