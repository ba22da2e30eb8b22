/**
 * fulfilment / parallel: charge-payment, mandatory, with one retry.
 *
 * Any `Error` other than `PluginError` is reported as retryable, and the orchestrator dispatches the
 * plugin again (after `retryBaseSeconds`, doubling) until `maxAttempts`. The plugin keeps no state of
 * its own between attempts: `context.attempt` says which attempt this is.
 */
import { orchestratorWrapperSns, type PluginInfoInput } from '../../plugin-kit/src/index.js';
import { EXAMPLE_DEADLINE_SECONDS, flag } from './shared.js';

export const info = {
  name: 'charge-payment',
  default: { mandatory: true },
  deadlineSeconds: EXAMPLE_DEADLINE_SECONDS,
  maxAttempts: 2,
} satisfies PluginInfoInput;

/** A transient failure: the orchestrator retries it. */
export class PaymentGatewayUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  const mode = flag(message, 'failPayment');
  const fails =
    mode === 'always' ||
    (mode === 'once' && context.attempt === 1) ||
    // 'first-run': every attempt of the first run fails; a rerun (generation 2) succeeds.
    (mode === 'first-run' && context.generation === 1);
  if (fails) {
    throw new PaymentGatewayUnavailableError(`payment gateway timed out (attempt ${context.attempt})`);
  }
  return { charged: true, attempt: context.attempt };
});
