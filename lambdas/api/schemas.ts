/**
 * The HTTP API's shapes, in zod: the handlers validate requests with them and the OpenAPI document
 * (openapi.ts) is generated from the very same objects with `z.toJSONSchema`, so the document cannot
 * drift from what the API accepts. Response schemas are what the handlers build; the end-to-end
 * tests parse every answer with them.
 */
import { z } from 'zod';
import {
  isoTime,
  metadataSchema,
  PLUGIN_STATES,
  pluginName,
  RUN_STATES,
  resourceName,
  STAGE_NAMES,
  STAGE_STATES,
  uid,
} from '../contracts/index.js';

/** Largest request body accepted (checked before parsing): metadata's 32 KiB limit plus room. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Most runs one page lists. */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 25;
/** Longest operator reason kept (a status message's limit). */
export const MAX_REASON_CHARS = 1000;

export const workflowParam = resourceName.describe('A workflow declared in plugboard.config.ts');
export const uidParam = uid.describe("The run's business key");

export const startBodySchema = z
  .strictObject({
    uid,
    metadata: metadataSchema.default({}).describe('Business data handed to every plugin (≤ 32 KiB of JSON)'),
  })
  .meta({ id: 'StartRequest' });

export const rerunBodySchema = z
  .strictObject({
    metadata: metadataSchema.optional().describe('Replaces the metadata only with metadataOverride'),
    metadataOverride: z.boolean().default(false),
  })
  .meta({ id: 'RerunRequest' });

export const cancelBodySchema = z
  .strictObject({
    reason: z.string().min(1).max(MAX_REASON_CHARS).optional().describe('Kept as the run message'),
  })
  .meta({ id: 'CancelRequest' });

/** `GET /workflows/{workflow}/runs` query: every value arrives as a string. */
export const listQuerySchema = z
  .strictObject({
    state: z.enum(RUN_STATES).optional().describe('Only runs in this state'),
    since: isoTime.optional().describe('Only runs created at or after this time'),
    until: isoTime.optional().describe('Only runs created before this time'),
    limit: z
      .string()
      .regex(/^\d{1,3}$/, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE))
      .optional()
      .describe(`Runs per page (1-${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE})`),
    cursor: z.string().max(2048).optional().describe('nextCursor of the previous page'),
  })
  .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, {
    message: 'since must be before until',
    path: ['until'],
  });

export const pluginPathSchema = z.strictObject({
  workflow: workflowParam,
  uid: uidParam,
  activity: resourceName,
  stage: z.enum(STAGE_NAMES),
  plugin: pluginName,
});

const stateTimes = z.record(z.string(), isoTime).describe('When the component entered each state');

export const runSummarySchema = z
  .object({
    workflow: z.string(),
    uid: z.string(),
    state: z.enum(RUN_STATES),
    generation: z.number().int(),
    activities: z.array(z.string()),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: isoTime,
    updatedAt: isoTime,
    endedAt: isoTime.optional(),
    message: z.string().optional(),
    position: z
      .object({ activity: z.string(), stage: z.enum(STAGE_NAMES) })
      .optional()
      .describe(
        'The activity the run is in and the stage it entered it at; the stage it is at is the last entered one in the tree.',
      ),
    stateTimes,
  })
  .meta({ id: 'RunSummary' });

export const attemptViewSchema = z
  .object({
    attempt: z.number().int(),
    /** The attempt's outcome; for the current attempt, the plugin's state. */
    outcome: z.enum(PLUGIN_STATES),
    startedAt: isoTime.optional(),
    endedAt: isoTime.optional(),
    message: z.string().optional(),
    errorCode: z.string().optional(),
  })
  .meta({
    id: 'AttemptView',
    description: 'One attempt of a plugin: when it was dispatched and ended, its outcome and message.',
  });

export const pluginViewSchema = z
  .object({
    plugin: z.string(),
    state: z.enum(PLUGIN_STATES),
    mandatory: z.boolean(),
    order: z.number().int(),
    attempt: z.number().int(),
    maxAttempts: z.number().int(),
    deadline: isoTime.optional(),
    message: z.string().optional(),
    errorCode: z.string().optional(),
    result: z.unknown().optional(),
    lateReports: z.number().int().optional(),
    /** Every attempt, oldest first; the last is the current one (its outcome is the plugin's state). */
    attempts: z.array(attemptViewSchema),
    updatedAt: isoTime,
    stateTimes,
  })
  .meta({ id: 'PluginView' });

export const stageViewSchema = z
  .object({
    stage: z.enum(STAGE_NAMES),
    state: z.enum(STAGE_STATES).or(z.literal('Not Reached')),
    mode: z.enum(['sequential', 'parallel']).optional(),
    message: z.string().optional(),
    createdAt: isoTime.optional(),
    updatedAt: isoTime.optional(),
    stateTimes,
    plugins: z.array(pluginViewSchema),
  })
  .meta({ id: 'StageView' });

export const runTreeSchema = runSummarySchema
  .extend({
    tree: z.array(z.object({ activity: z.string(), stages: z.array(stageViewSchema) })),
  })
  .meta({ id: 'RunTree' });

export const runPageSchema = z
  .object({
    runs: z.array(runSummarySchema),
    nextCursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last'),
  })
  .meta({ id: 'RunPage' });

export const inputFieldSchema = z
  .object({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'object', 'array']),
    required: z.boolean(),
    description: z.string().optional(),
    enum: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .meta({ id: 'InputField' });

export const workflowListSchema = z
  .object({
    workflows: z.array(
      z.object({
        name: z.string(),
        activities: z.array(z.string()),
        input: z.record(z.string(), inputFieldSchema).optional(),
      }),
    ),
  })
  .meta({ id: 'WorkflowList' });

export const pluginListSchema = z
  .object({
    plugins: z.array(
      z.object({
        activity: z.string(),
        stage: z.enum(STAGE_NAMES),
        plugin: z.string(),
        order: z.number().int(),
        mandatory: z.boolean(),
        registeredAt: isoTime.optional(),
        liveness: z
          .enum(['live', 'inactive', 'offline', 'idle', 'unknown'])
          .describe('From the plugin metrics of the last hour; unknown when they cannot be read'),
        lastSeen: isoTime.optional(),
      }),
    ),
  })
  .meta({ id: 'PluginList' });

export const healthSchema = z
  .object({ status: z.literal('ok'), time: isoTime, deploymentStage: z.string() })
  .meta({ id: 'Health' });

export const operatorResultSchema = z
  .object({
    ok: z.literal(true),
    action: z.enum(['cancel', 'skip', 'rerun', 'retry']),
    run: runSummarySchema,
  })
  .meta({ id: 'OperatorResult' });

export const problemSchema = z
  .object({
    type: z.string().describe('A stable URN per kind of problem'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What is wrong and how to fix it'),
    instance: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

export type RunSummary = z.infer<typeof runSummarySchema>;
export type RunTree = z.infer<typeof runTreeSchema>;
export type StageView = z.infer<typeof stageViewSchema>;
export type PluginView = z.infer<typeof pluginViewSchema>;
