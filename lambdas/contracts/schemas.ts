/**
 * Orchestrator-internal contracts: the start request, engine commands and lifecycle events.
 * The plugin-facing ones live in the plugin kit and are re-exported from `./index.ts`.
 */
import { z } from 'zod';
import {
  isoTime,
  metadataSchema,
  pluginName,
  reportSchema,
  resourceName,
  schemaVersion,
  stageName,
  uid,
} from '../../plugin-kit/src/contracts/index.js';

/** What the start queue and the start function accept. */
export const startRequestSchema = z.strictObject({
  schemaVersion,
  workflow: resourceName,
  uid,
  metadata: metadataSchema.default({}),
  /** Re-run a finished run: completed plugins are kept, failed ones run again. */
  rerun: z.boolean().default(false),
  /** Allow a rerun with metadata that differs from the stored run's (it then replaces it). */
  metadataOverride: z.boolean().default(false),
});
export type StartRequest = z.infer<typeof startRequestSchema>;

const commandBase = {
  schemaVersion,
  workflow: resourceName,
  uid,
  generation: z.number().int().min(1),
  activity: resourceName,
  stage: stageName,
};

/** Commands the engine sends to stage inboxes (never plugins). */
export const commandSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...commandBase,
    kind: z.literal('start-stage'),
    /** When the previous stage's last awaited report was handled (for the stage-overhead metric). */
    triggeredAt: isoTime.optional(),
  }),
  /** Dispatch `plugins` again: each failed (or timed out) its attempt number `attempt`. */
  z.strictObject({
    ...commandBase,
    kind: z.literal('retry'),
    plugins: z.array(pluginName).min(1),
    attempt: z.number().int().min(1),
  }),
  z.strictObject({
    ...commandBase,
    kind: z.literal('timeout'),
    plugin: pluginName,
    attempt: z.number().int().min(1),
  }),
]);
export type Command = z.infer<typeof commandSchema>;

/** Everything a stage inbox accepts. */
export const inboxMessageSchema = z.union([reportSchema, commandSchema]);
export type InboxMessage = z.infer<typeof inboxMessageSchema>;

export const LIFECYCLE_EVENT_TYPES = [
  'run.started',
  'run.rerun',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'plugin.failed',
  'plugin.timed-out',
  'plugin.retrying',
] as const;

/** What the events topic announces. `eventId` is stable, so consumers can drop duplicates. */
export const lifecycleEventSchema = z.strictObject({
  schemaVersion,
  kind: z.literal('lifecycle'),
  type: z.enum(LIFECYCLE_EVENT_TYPES),
  eventId: z.string().min(1),
  at: isoTime,
  workflow: resourceName,
  uid,
  generation: z.number().int().min(1),
  activity: resourceName.optional(),
  stage: stageName.optional(),
  plugin: pluginName.optional(),
  message: z.string().optional(),
});
export type LifecycleEvent = z.infer<typeof lifecycleEventSchema>;
