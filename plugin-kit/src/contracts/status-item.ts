/**
 * The part of a plugin execution item (`PLUGIN#<activity>#<stage>#<plugin>`, see table-layout.ts)
 * that plugins may read: the plugin kit's skip rules and status reader rely on exactly these
 * attributes. The orchestrator stores more; readers ignore what they do not know.
 */
import { z } from 'zod';
import { PLUGIN_STATES } from './states.js';

export const pluginStatusItemSchema = z.looseObject({
  state: z.enum(PLUGIN_STATES),
  /** The run generation this record belongs to (1, then +1 per rerun). */
  generation: z.number().int().min(1),
  /** The current attempt (0 before the first dispatch). */
  attempt: z.number().int().min(0),
  workflow: z.string().optional(),
  uid: z.string().optional(),
  activity: z.string().optional(),
  stage: z.string().optional(),
  plugin: z.string().optional(),
  mandatory: z.boolean().optional(),
  message: z.string().nullish(),
  /** The `PluginError.code` of the last `Error` report, when it had one (stored by the orchestrator). */
  errorCode: z.string().nullish(),
  result: z.unknown().optional(),
  updatedAt: z.string().optional(),
});
export type PluginStatusItem = z.infer<typeof pluginStatusItemSchema>;
