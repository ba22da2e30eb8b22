/**
 * The workflow config: which workflows exist, which activities they run in order, and the defaults of
 * each activity. Users write it in `plugboard.config.ts` with {@link defineConfig}; the CDK app
 * validates it at synth and fails with one error that lists every bad entry.
 */
import { z } from 'zod';
import { INPUT_TYPES } from '../../lambdas/api/inputs.js';
import {
  type DeploymentRef,
  inboxQueueName,
  principalId,
  RESOURCE_NAME,
  STAGE_NAMES,
} from '../../plugin-kit/src/contracts/index.js';
import { type ConfigProblem, ConfigValidationError } from '../errors.js';
import { eventsConfigSchema } from './events-config.js';

const NAME_RULE =
  'use 1-40 characters: a lower-case letter first, then lower-case letters, digits or hyphens (e.g. "order-intake")';

/** Longest SQS queue name. */
export const MAX_QUEUE_NAME_LENGTH = 80;

/**
 * Bytes of compact JSON allowed for `PLUGBOARD_CONFIG`. Lambda allows 4 KB for all environment
 * variables of a function together; the rest is left for ARNs, URLs and the runtime's own variables.
 */
export const MAX_RUNTIME_CONFIG_BYTES = 2500;

/** Stage names allowed in `--context stage=…` (also the names accepted in `ephemeralStages`). */
export const DEPLOYMENT_STAGE_NAME = /^[a-z][a-z0-9]{0,11}$/;

const resourceName = z
  .string({ error: `must be a string; ${NAME_RULE}` })
  .regex(RESOURCE_NAME, { error: `is not a valid name; ${NAME_RULE}` });

const wholeSeconds = (what: string, min: number, max: number, fallback: number) =>
  z
    .number({ error: `${what} must be a number of seconds` })
    .int({ error: `${what} must be a whole number of seconds` })
    .min(min, { error: `${what} must be at least ${min}` })
    .max(max, { error: `${what} must be at most ${max}` })
    .default(fallback);

export const activitySettingsSchema = z.strictObject(
  {
    /** How long a dispatched plugin may take before it is `Timed Out`. */
    deadlineSeconds: wholeSeconds('deadlineSeconds', 1, 86_400, 300),
    /** How many times a retryable plugin failure or timeout is tried in all. */
    maxAttempts: z
      .number({ error: 'maxAttempts must be a number' })
      .int({ error: 'maxAttempts must be a whole number' })
      .min(1, { error: 'maxAttempts must be at least 1 (1 means: never retry)' })
      .max(20, { error: 'maxAttempts must be at most 20' })
      .default(3),
    /** First retry delay; doubles with every attempt (SQS caps a delay at 900 s). */
    retryBaseSeconds: wholeSeconds('retryBaseSeconds', 1, 900, 2),
    /**
     * Batching of the parallel stage's inbox. By default reports are handled as they arrive (no
     * window): the lowest latency. A wide parallel stage (hundreds of plugins) may trade latency for
     * fewer invocations and writes: a window of up to `windowSeconds` lets the event source gather up
     * to `batchSize` reports per invocation. It adds up to `windowSeconds` to the stage (and, at very
     * low traffic, AWS may wait up to 20 s). Sequential stages never batch: one report per hop.
     */
    parallelBatching: z
      .strictObject(
        {
          windowSeconds: wholeSeconds('parallelBatching.windowSeconds', 0, 300, 0),
          batchSize: z
            .number({ error: 'parallelBatching.batchSize must be a number' })
            .int({ error: 'parallelBatching.batchSize must be a whole number' })
            .min(1, { error: 'parallelBatching.batchSize must be at least 1' })
            .max(1000, { error: 'parallelBatching.batchSize must be at most 1000' })
            .default(10),
        },
        { error: 'parallelBatching must be an object such as { windowSeconds: 1, batchSize: 100 }' },
      )
      .refine((b) => b.batchSize <= 10 || b.windowSeconds >= 1, {
        error:
          'parallelBatching.batchSize above 10 needs windowSeconds of at least 1 (an SQS event source rule); set windowSeconds: 1 or batchSize: 10',
      })
      .default({ windowSeconds: 0, batchSize: 10 }),
    /**
     * Most concurrent invocations of each stage orchestrator of the activity (the SQS event source's
     * `maximumConcurrency`), so that one flood of reports cannot take the account's Lambda concurrency.
     */
    inboxMaximumConcurrency: z
      .number({ error: 'inboxMaximumConcurrency must be a number' })
      .int({ error: 'inboxMaximumConcurrency must be a whole number' })
      .min(2, { error: 'inboxMaximumConcurrency must be at least 2 (an SQS event source rule)' })
      .max(1000, { error: 'inboxMaximumConcurrency must be at most 1000 (an SQS event source rule)' })
      .default(20),
    /** What the activity does; shown in the stack description. */
    description: z
      .string({ error: 'description must be a string' })
      .max(200, { error: 'description must be at most 200 characters' })
      .optional(),
  },
  { error: 'an activity must be an object such as { deadlineSeconds: 300 } (all fields are optional)' },
);

/**
 * One declared input field of a workflow (lambdas/api/inputs.ts): a JSON-Schema-like subset, checked
 * against a start's metadata by every start path and shown by `GET /workflows` and the OpenAPI document.
 */
export const inputFieldSchema = z.strictObject(
  {
    type: z.enum(INPUT_TYPES, { error: `type must be one of ${INPUT_TYPES.join(', ')}` }),
    required: z.boolean().optional(),
    description: z.string().max(1024).optional(),
    enum: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1)
      .optional(),
  },
  { error: 'an input field must be an object such as { type: "string", required: true }' },
);

export const workflowSchema = z.strictObject(
  {
    name: resourceName,
    activities: z
      .array(resourceName, { error: 'activities must be a list of activity names, in the order they run' })
      .min(1, { error: 'a workflow needs at least one activity; list them in the order they run' }),
    /** The metadata fields a start must (or may) carry, by name. @default - any metadata */
    input: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,256}$/), inputFieldSchema).optional(),
  },
  { error: 'a workflow must be an object { name, activities: [...] }' },
);

export const workflowConfigSchema = z.strictObject(
  {
    workflows: z
      .array(workflowSchema, { error: 'workflows must be a list of { name, activities }' })
      .min(1, { error: 'declare at least one workflow' }),
    activities: z.record(resourceName, activitySettingsSchema, {
      error: 'activities must be an object that maps each activity name to its settings',
    }),
    /**
     * Deployment stages whose stateful resources (status table, log groups, key) are destroyed with
     * their stacks. Every other stage keeps them (RETAIN) and turns on deletion protection.
     */
    ephemeralStages: z
      .array(
        z.string({ error: 'must be a string' }).regex(DEPLOYMENT_STAGE_NAME, {
          error: 'is not a stage name; use 1-12 lower-case letters or digits',
        }),
        { error: 'ephemeralStages must be a list of stage names' },
      )
      .default([]),
    /** Where lifecycle events go besides the SNS events topic (events-config.ts). */
    events: eventsConfigSchema,
    /**
     * IAM unique ids (a role's `RoleId` `AROA…`, a user's `AIDA…`) of the operators who may send
     * `start-stage` nudges (`plugboard skip`) to stage inboxes. Empty: any principal that is not a
     * plugin of the stage may (docs/security.md).
     */
    operatorPrincipals: z
      .array(principalId, { error: 'operatorPrincipals must be a list of role or user ids' })
      .max(50, { error: 'operatorPrincipals may list at most 50 ids' })
      .default([]),
  },
  { error: 'the config must be an object { workflows: [...], activities: {...} }' },
);

/** What users write (defaults may be left out). */
export type WorkflowConfigInput = z.input<typeof workflowConfigSchema>;
/** The validated config with every default filled in. */
export type WorkflowConfig = z.output<typeof workflowConfigSchema>;
export type ActivitySettingsConfig = z.output<typeof activitySettingsSchema>;

/** Typed helper for `plugboard.config.ts`; the config is validated when the app is synthesized. */
export function defineConfig(config: WorkflowConfigInput): WorkflowConfigInput {
  return config;
}

/** A validated config and the warnings found on the way (e.g. activities no workflow uses). */
export interface ValidatedWorkflowConfig {
  readonly config: WorkflowConfig;
  readonly warnings: readonly ConfigProblem[];
}

const SOURCE = 'Plugboard workflow config (plugboard.config.ts)';

/**
 * Validates a workflow config and, when a deployment is given, the names it produces for it.
 * Throws one {@link ConfigValidationError} that lists every bad entry.
 */
export function parseWorkflowConfig(input: unknown, deployment?: DeploymentRef): ValidatedWorkflowConfig {
  const parsed = workflowConfigSchema.safeParse(input, { reportInput: true });
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.flatMap((issue) => problemsFromIssue(issue, input));
  const crossChecked = crossCheck(input);
  problems.push(...crossChecked.problems);
  if (parsed.success && deployment) problems.push(...checkDeploymentNames(parsed.data, deployment));
  if (parsed.success && problems.length === 0) problems.push(...checkRuntimeConfigSize(parsed.data));
  if (!parsed.success || problems.length > 0) throw new ConfigValidationError(SOURCE, sortProblems(problems));
  return { config: parsed.data, warnings: crossChecked.warnings };
}

/** Activity names in declaration order: one activity stack each. */
export function declaredActivities(config: WorkflowConfig): string[] {
  return Object.keys(config.activities);
}

/** Whether the deployment stage destroys its stateful resources with its stacks. */
export function isEphemeralStage(config: WorkflowConfig, stage: string): boolean {
  return config.ephemeralStages.includes(stage);
}

/** The compact JSON handlers receive in `PLUGBOARD_CONFIG` (descriptions are left out). */
export function runtimeConfigJson(config: WorkflowConfig): string {
  const workflows = Object.fromEntries(config.workflows.map((w) => [w.name, w.activities]));
  const activities = Object.fromEntries(
    Object.entries(config.activities).map(([name, a]) => [
      name,
      {
        deadlineSeconds: a.deadlineSeconds,
        maxAttempts: a.maxAttempts,
        retryBaseSeconds: a.retryBaseSeconds,
      },
    ]),
  );
  const inputs = Object.fromEntries(
    config.workflows.flatMap((w) => (w.input !== undefined ? [[w.name, w.input]] : [])),
  );
  // Declared inputs travel with the config, so every start path checks them (lambdas/api/inputs.ts).
  return JSON.stringify({ workflows, activities, ...(Object.keys(inputs).length > 0 ? { inputs } : {}) });
}

// ---------------------------------------------------------------------------------------------

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(config)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function problemsFromIssue(issue: z.core.$ZodIssue, input: unknown): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      value: valueAt(input, [...issue.path, key]),
      message: `unknown field "${key}"; remove it or check its spelling`,
    }));
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message ?? 'is not a valid key';
    const key = issue.path[issue.path.length - 1];
    return [
      {
        path: formatPath(issue.path),
        value: key,
        message: `activity name ${inner}`,
      },
    ];
  }
  const value = 'input' in issue ? issue.input : valueAt(input, issue.path);
  return [{ path: formatPath(issue.path), value, message: issue.message }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Checks that span entries: duplicates, undeclared and unused activities. Tolerates bad shapes. */
function crossCheck(input: unknown): { problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  if (!isRecord(input)) return { problems, warnings };
  const declared = isRecord(input.activities) ? new Set(Object.keys(input.activities)) : undefined;
  const used = new Set<string>();
  const workflows = Array.isArray(input.workflows) ? input.workflows : [];
  const firstWorkflow = new Map<string, number>();

  workflows.forEach((workflow: unknown, i) => {
    if (!isRecord(workflow)) return;
    if (typeof workflow.name === 'string') {
      const first = firstWorkflow.get(workflow.name);
      if (first === undefined) firstWorkflow.set(workflow.name, i);
      else
        problems.push({
          path: `workflows[${i}].name`,
          value: workflow.name,
          message: `duplicate workflow name (also workflows[${first}]); give every workflow its own name`,
        });
    }
    if (!Array.isArray(workflow.activities)) return;
    const seen = new Map<string, number>();
    workflow.activities.forEach((activity: unknown, k) => {
      if (typeof activity !== 'string') return;
      used.add(activity);
      const first = seen.get(activity);
      if (first !== undefined) {
        problems.push({
          path: `workflows[${i}].activities[${k}]`,
          value: activity,
          message: `listed twice in this workflow (also at index ${first}); an activity runs once per workflow, remove one`,
        });
      } else seen.set(activity, k);
      if (declared && !declared.has(activity) && RESOURCE_NAME.test(activity)) {
        problems.push({
          path: `workflows[${i}].activities[${k}]`,
          value: activity,
          message: `activity "${activity}" is not declared; add \`'${activity}': {}\` under \`activities\``,
        });
      }
    });
  });

  for (const name of declared ?? []) {
    if (!used.has(name)) {
      warnings.push({
        path: formatPath(['activities', name]),
        value: name,
        message:
          'no workflow uses this activity; its stack is still deployed so plugins can register early. Add it to a workflow or remove it',
      });
    }
  }
  return { problems, warnings };
}

/** Queue names derived from the config must fit SQS's limit for this system and stage. */
function checkDeploymentNames(config: WorkflowConfig, deployment: DeploymentRef): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const activity of declaredActivities(config)) {
    const longest = STAGE_NAMES.map((stage) => `${inboxQueueName(deployment, activity, stage)}-dlq`).reduce(
      (a, b) => (b.length > a.length ? b : a),
    );
    if (longest.length > MAX_QUEUE_NAME_LENGTH) {
      const excess = longest.length - MAX_QUEUE_NAME_LENGTH;
      problems.push({
        path: formatPath(['activities', activity]),
        value: activity,
        message: `its queue name "${longest}" has ${longest.length} characters but SQS allows ${MAX_QUEUE_NAME_LENGTH}; shorten the activity name to at most ${activity.length - excess} characters, or use a shorter systemName or stage`,
      });
    }
  }
  return problems;
}

function checkRuntimeConfigSize(config: WorkflowConfig): ConfigProblem[] {
  const bytes = Buffer.byteLength(runtimeConfigJson(config), 'utf8');
  if (bytes <= MAX_RUNTIME_CONFIG_BYTES) return [];
  return [
    {
      path: 'workflows',
      value: `${config.workflows.length} workflows, ${declaredActivities(config).length} activities`,
      message: `the config handed to every function (PLUGBOARD_CONFIG) is ${bytes} bytes but at most ${MAX_RUNTIME_CONFIG_BYTES} fit in Lambda's 4 KB environment; use shorter names or split the workflows over two systemNames`,
    },
  ];
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}
