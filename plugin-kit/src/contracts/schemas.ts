/**
 * The plugin-facing contracts: what a plugin registers, receives and reports. The orchestrator
 * imports these from the kit, so both sides always validate the same shapes (docs/contracts.md).
 */
import { z } from 'zod';
import {
  ATTRIBUTE_NAME,
  byteLength,
  ERROR_CODE,
  LIMITS,
  PLUGIN_NAME,
  RESERVED_ATTRIBUTES,
  RESOURCE_NAME,
  SCHEMA_VERSION,
  UID,
} from './limits.js';
import { STAGE_NAMES } from './states.js';

export const schemaVersion = z.literal(SCHEMA_VERSION).default(SCHEMA_VERSION);
export const resourceName = z
  .string()
  .regex(
    RESOURCE_NAME,
    'must be lower-case letters, digits and dashes, start with a letter, at most 40 characters',
  );
export const pluginName = z
  .string()
  .regex(
    PLUGIN_NAME,
    'must be letters, digits, "_", "." or "-", start with a letter or digit, at most 64 characters',
  );
export const uid = z
  .string({ error: 'uid is required' })
  .regex(
    UID,
    'must be 1-128 characters of letters, digits and ._:@/+=- (no "#" or spaces), starting with a letter or digit',
  );
export const stageName = z.enum(STAGE_NAMES);
export const isoTime = z.iso.datetime();

export const metadataSchema = z.record(z.string(), z.unknown()).superRefine((metadata, ctx) => {
  const size = byteLength(metadata);
  if (size > LIMITS.metadataBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `metadata is ${size} bytes of JSON; the limit is ${LIMITS.metadataBytes} bytes. Store large documents elsewhere (e.g. S3) and pass a reference.`,
    });
  }
  for (const key of Object.keys(metadata)) {
    if ((RESERVED_ATTRIBUTES as readonly string[]).includes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `"${key}" is reserved (${RESERVED_ATTRIBUTES.join(', ')} are set by Plugboard); rename the key`,
      });
    } else if (!ATTRIBUTE_NAME.test(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message:
          'is not a legal SNS message attribute name: use letters, digits, "_", "-" and ".", no leading, trailing or double dots, no "AWS."/"Amazon." prefix, at most 256 characters',
      });
    }
  }
});
export type Metadata = z.infer<typeof metadataSchema>;

/** How a plugin is registered: the predecessor's `PluginInfo`, with Plugboard's additions. */
export const pluginInfoSchema = z.strictObject({
  name: pluginName,
  description: z.string().max(1024).optional(),
  default: z.strictObject({
    mandatory: z.boolean(),
  }),
  /** Per-activity overrides, keyed by activity name. */
  overrides: z.record(resourceName, z.strictObject({ mandatory: z.boolean().optional() })).default({}),
  /** Sequential stages run plugins by ascending order; ties are broken by name. */
  order: z.number().int().min(0).max(1_000_000).default(90),
  /** Read the status before running and skip if already done (plugin kit). */
  idempotent: z.boolean().default(true),
  /** Run even if the status says the plugin is done or must not run (plugin kit). */
  alwaysRun: z.boolean().default(false),
  /** Seconds from dispatch until the plugin is timed out. Default: the activity's setting. */
  deadlineSeconds: z.number().int().min(1).max(86_400).optional(),
  /** Attempts in all (1 = no retry). Default: the activity's setting. */
  maxAttempts: z.number().int().min(1).max(20).optional(),
  /** Literal FIFO MessageGroupId for the queue bridge (default: the run's uid). */
  fifoKey: z.string().min(1).max(128).optional(),
  /** Whether the plugin kit reports `In Progress` when the handler starts (costs one SQS message). */
  reportInProgress: z.boolean().default(true),
});
export type PluginInfo = z.infer<typeof pluginInfoSchema>;
export type PluginInfoInput = z.input<typeof pluginInfoSchema>;

/** Whether a plugin gates the given activity, honouring `overrides[activity].mandatory`. */
export function isMandatoryFor(info: Pick<PluginInfo, 'default' | 'overrides'>, activity: string): boolean {
  return info.overrides?.[activity]?.mandatory ?? info.default.mandatory;
}

const filterPolicyScope = z.enum(['MessageAttributes', 'MessageBody']);

/** An IAM unique id as SQS reports it in `SenderId` before the `:` (a role's `AROA…`, a user's `AIDA…`). */
export const principalId = z
  .string()
  .regex(/^[A-Z0-9]{16,128}$/, 'must be an IAM unique id such as a role id "AROA…" (the RoleId attribute)');

/** A registration: what the registrar stores for one plugin in one activity stage. */
export const registrationSchema = z.strictObject({
  schemaVersion,
  activity: resourceName,
  stage: stageName,
  info: pluginInfoSchema,
  /** The plugin's own SNS filter policy (without the `plugins` targeting, which Plugboard adds). */
  filterPolicy: z.record(z.string(), z.unknown()).optional(),
  filterPolicyScope: filterPolicyScope.default('MessageAttributes'),
  /** ARN of the plugin's function, when known (for `plugboard plugins` and the initialize call). */
  functionArn: z.string().optional(),
  /**
   * The CloudFormation stack that created the registration (its `StackId`), set by the registrar:
   * only that stack may change or remove it. Absent on registrations made before owners existed.
   */
  owner: z.string().min(1).max(1024).optional(),
  /**
   * The IAM role ids (`AROA…`) that may report for this plugin: its function's role and, for the queue
   * bridge, the consumer's. The engine accepts a report only when its SQS `SenderId` is one of them.
   * Absent on registrations made before principals existed (their reports are accepted, with a warning metric).
   */
  principals: z.array(principalId).min(1).max(10).optional(),
});
export type Registration = z.infer<typeof registrationSchema>;

/** Where a plugin sends its reports. */
export const replyToSchema = z.strictObject({ queueUrl: z.string().min(1) });

/** What a plugin receives (the SNS message body). */
export const pluginMessageSchema = z.strictObject({
  schemaVersion,
  kind: z.literal('plugin-task'),
  workflow: resourceName,
  uid,
  generation: z.number().int().min(1),
  activity: resourceName,
  stage: stageName,
  /** The plugins this publish targets (also the `plugins` message attribute). */
  plugins: z.array(pluginName).min(1),
  /** The attempt number of every targeted plugin in this publish (1 = first). */
  attempt: z.number().int().min(1),
  dispatchedAt: isoTime,
  /** Deadline of each targeted plugin (ISO time); no report by then ⇒ Timed Out. */
  deadlines: z.record(pluginName, isoTime),
  metadata: metadataSchema,
  replyTo: replyToSchema,
});
export type PluginMessage = z.infer<typeof pluginMessageSchema>;

export const resultSchema = z.unknown().superRefine((result, ctx) => {
  const size = byteLength(result);
  if (size > LIMITS.resultBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `result is ${size} bytes of JSON; the limit is ${LIMITS.resultBytes} bytes. Store large outputs elsewhere and return a reference.`,
    });
  }
});

/** A `PluginError.code`: a short machine-readable reason such as `NO_CUSTOMER`. */
export const errorCode = z
  .string()
  .regex(ERROR_CODE, 'must be 1-64 letters, digits, "_", "-", "." or ":", starting with a letter or digit');

const reportBase = {
  schemaVersion,
  kind: z.literal('report'),
  workflow: resourceName,
  uid,
  generation: z.number().int().min(1),
  activity: resourceName,
  stage: stageName,
  plugin: pluginName,
  attempt: z.number().int().min(1),
  reportedAt: isoTime,
  message: z
    .string()
    .max(64 * 1024)
    .optional(),
};

/** What a plugin sends to its stage's inbox. */
export const reportSchema = z.discriminatedUnion('status', [
  z.strictObject({ ...reportBase, status: z.literal('In Progress') }),
  z.strictObject({ ...reportBase, status: z.literal('Complete'), result: resultSchema.optional() }),
  z.strictObject({
    ...reportBase,
    status: z.literal('Error'),
    retryable: z.boolean().default(true),
    /** The plugin's machine-readable reason (`PluginError.code`), when it gave one. Optional: older kits send none. */
    code: errorCode.optional(),
  }),
]);
export type Report = z.infer<typeof reportSchema>;
export type ReportInput = z.input<typeof reportSchema>;

/** Formats zod issues as one line per problem, naming the field: `metadata.foo: is not …`. */
export function describeIssues(error: z.ZodError): string {
  return flattenIssues(error.issues, [])
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

interface FlatIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * Issues with the problems inside a union spelled out: "(root): Invalid input" says nothing, so for
 * a value that matches no option, the option it came closest to is described — the one with the
 * fewest problems, and among those one that accepted the message's `kind` (a report with a wrong
 * `status` is described as a report, not as every command it is not).
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): FlatIssue[] {
  return issues.flatMap((issue): FlatIssue[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const options = issue.errors
        .map((option) => flattenIssues(option, path))
        .filter((option) => option.length > 0);
      const rank = (option: FlatIssue[]) =>
        option.length +
        (option.some((i) => i.path.length === path.length + 1 && i.path.at(-1) === 'kind') ? 1000 : 0);
      const best = [...options].sort((a, b) => rank(a) - rank(b))[0];
      if (best) return best;
    }
    return [{ path, message: issue.message }];
  });
}
