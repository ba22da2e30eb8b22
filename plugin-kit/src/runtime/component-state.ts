import { type ComponentState, STATES } from '../contracts/index.js';

/**
 * Every state name Plugboard stores (the predecessor's `OrchestratorComponentState`, plus
 * `Timed Out` and `Cancelled`). Use it as a value (`OrchestratorComponentState.Complete`) or a type.
 *
 * @example
 * ```ts
 * const enrich = await status.getPlugin(key);
 * if (enrich?.state === OrchestratorComponentState.Complete) use(enrich.result);
 * ```
 */
export const OrchestratorComponentState = {
  NotStarted: STATES.notStarted,
  InProgress: STATES.inProgress,
  MandatoryCompleted: STATES.mandatoryCompleted,
  Complete: STATES.complete,
  Error: STATES.error,
  OptionalTaskError: STATES.optionalTaskError,
  DoNotRun: STATES.doNotRun,
  TimedOut: STATES.timedOut,
  Cancelled: STATES.cancelled,
} as const satisfies Record<string, ComponentState>;

export type OrchestratorComponentState = ComponentState;
