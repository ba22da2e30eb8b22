/**
 * What the parts of the stage engine share: the states a stage awaits, and key helpers.
 */
import { type Command, type PluginState, STATES } from '../contracts/index.js';
import type { PluginKey, StageKey } from './records.js';

export type StartStageCommand = Extract<Command, { kind: 'start-stage' }>;
export type RetryCommand = Extract<Command, { kind: 'retry' }>;
export type TimeoutCommand = Extract<Command, { kind: 'timeout' }>;

/** Why a plugin is `Do Not Run`: an operator's decision is kept by a rerun; a filter's is re-evaluated. */
export const OPERATOR_SKIP_MESSAGE = 'skipped by an operator';
export const FILTERED_OUT_MESSAGE = 'excluded by its subscription filter policy';

/** Plugin states a stage still waits for. */
export const AWAITED: readonly PluginState[] = [STATES.notStarted, STATES.inProgress];
export const OPEN_STAGE = [STATES.inProgress, STATES.mandatoryCompleted] as const;

export const stageKeyOf = (k: StageKey): StageKey => ({
  workflow: k.workflow,
  uid: k.uid,
  activity: k.activity,
  stage: k.stage,
});
export const pluginKeyOf = (k: StageKey, plugin: string): PluginKey => ({ ...stageKeyOf(k), plugin });
export const deadlineFrom = (now: Date, seconds: number): string =>
  new Date(now.getTime() + seconds * 1000).toISOString();
export const byOrderThenName = (a: { order: number; name: string }, b: { order: number; name: string }) =>
  a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
