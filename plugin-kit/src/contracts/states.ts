/**
 * Every state name Plugboard stores, in one place. The predecessor's names are kept for familiarity;
 * `Timed Out` and `Cancelled` are new. See docs/contracts.md for who sets each one.
 */
export const STATES = {
  notStarted: 'Not Started',
  inProgress: 'In Progress',
  mandatoryCompleted: 'Mandatory Completed',
  complete: 'Complete',
  error: 'Error',
  optionalTaskError: 'Optional Task Error',
  doNotRun: 'Do Not Run',
  timedOut: 'Timed Out',
  cancelled: 'Cancelled',
} as const;

export type ComponentState = (typeof STATES)[keyof typeof STATES];

export const RUN_STATES = [
  STATES.inProgress,
  STATES.complete,
  STATES.error,
  STATES.cancelled,
] as const satisfies readonly ComponentState[];
export type RunState = (typeof RUN_STATES)[number];

export const STAGE_STATES = [
  STATES.notStarted,
  STATES.inProgress,
  STATES.mandatoryCompleted,
  STATES.complete,
  STATES.error,
  STATES.cancelled,
] as const satisfies readonly ComponentState[];
export type StageState = (typeof STAGE_STATES)[number];

export const PLUGIN_STATES = [
  STATES.notStarted,
  STATES.inProgress,
  STATES.complete,
  STATES.error,
  STATES.timedOut,
  STATES.doNotRun,
  STATES.cancelled,
] as const satisfies readonly ComponentState[];
export type PluginState = (typeof PLUGIN_STATES)[number];

/** Plugin states after which a plugin execution never changes again (within one run generation). */
export const FINAL_PLUGIN_STATES: readonly PluginState[] = [
  STATES.complete,
  STATES.error,
  STATES.timedOut,
  STATES.doNotRun,
  STATES.cancelled,
];

export const FINAL_RUN_STATES: readonly RunState[] = [STATES.complete, STATES.error, STATES.cancelled];

export const STAGE_NAMES = ['pre', 'parallel', 'post'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export function isFinalPluginState(state: PluginState): boolean {
  return FINAL_PLUGIN_STATES.includes(state);
}

export function isFinalRunState(state: RunState): boolean {
  return FINAL_RUN_STATES.includes(state);
}
