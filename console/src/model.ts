/**
 * The console's view of the API's answers: the types come from the API's own zod schemas
 * (lambdas/api/schemas.ts, type-only imports, nothing of zod is bundled), so a change of a response
 * shape fails the console's type check instead of its users.
 */
import type { z } from 'zod';
import type {
  PluginView,
  pluginListSchema,
  RunSummary,
  RunTree,
  StageView,
  workflowListSchema,
} from '../../lambdas/api/schemas.js';

export type { PluginView, RunSummary, RunTree, StageView };
export type WorkflowList = z.infer<typeof workflowListSchema>;
export type Workflow = WorkflowList['workflows'][number];
export type InputField = NonNullable<Workflow['input']>[string];
export type PluginList = z.infer<typeof pluginListSchema>;
export type Registration = PluginList['plugins'][number];
export type RunState = RunSummary['state'];
export type PluginState = PluginView['state'];
export type StageState = StageView['state'];
export type AnyState = RunState | PluginState | StageState;

export const RUN_STATES: readonly RunState[] = ['In Progress', 'Complete', 'Error', 'Cancelled'];
export const PLUGIN_STATES: readonly PluginState[] = [
  'Not Started',
  'In Progress',
  'Complete',
  'Error',
  'Timed Out',
  'Do Not Run',
  'Cancelled',
];
export const FINAL_RUN_STATES: readonly RunState[] = ['Complete', 'Error', 'Cancelled'];

/** What the signed-in caller may do (console/src/identity.ts works it out). */
export interface Permissions {
  readonly read: boolean;
  /** Workflows the caller may start runs of; `'*'` for all. */
  readonly start: readonly string[] | '*';
  readonly operate: boolean;
}

export interface Identity {
  /** Who the console acts as, for the header. */
  readonly name: string;
  readonly permissions: Permissions;
  /** Where the permissions come from (shown next to a hidden action). */
  readonly source: string;
}

export const mayStart = (p: Permissions, workflow: string): boolean =>
  p.start === '*' || p.start.includes(workflow);
