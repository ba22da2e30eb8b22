/**
 * The control API of a kept local cloud (`npm start -- --keep`): what the CLI's `--local credentials`,
 * `--local deploy` and `--local destroy` send to the process that runs the cloud, and what it answers.
 * One module for both ends, so the server (local/control.ts) and the client (local/control-client.ts)
 * cannot drift apart. JSON over HTTP on loopback, a bearer token from the local state file.
 */
import { z } from 'zod';

/** Requests larger than this are refused (413): every request is a few names and a path. */
export const MAX_CONTROL_BODY_BYTES = 16 * 1024;

export const CONTROL_PATHS = {
  functions: '/v1/functions',
  stacks: '/v1/stacks',
  deploy: '/v1/deploy',
  destroy: '/v1/destroy',
} as const;

/** Names as CloudFormation allows them for stacks (and a little more for artifact IDs). */
const stackName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'a stack name has letters, digits and hyphens, and starts with a letter');

export const deployRequestSchema = z.strictObject({
  /** Absolute path of a cloud assembly directory (`cdk synth -o <dir>`), on this machine. */
  assembly: z
    .string()
    .min(1)
    .max(4096)
    .refine((path) => path.startsWith('/'), 'must be an absolute path (the CLI resolves it)'),
  /** Only these stacks of the assembly. @default - all of them */
  stacks: z.array(z.string().min(1).max(256)).max(100).optional(),
});
export type DeployRequest = z.infer<typeof deployRequestSchema>;

export const destroyRequestSchema = z.strictObject({ stack: stackName });
export type DestroyRequest = z.infer<typeof destroyRequestSchema>;

export const functionIdentitySchema = z.object({
  functionName: z.string(),
  roleArn: z.string(),
  roleId: z.string(),
  credentials: z.object({
    accessKeyId: z.string(),
    secretAccessKey: z.string(),
    sessionToken: z.string().optional(),
  }),
});
export type FunctionIdentity = z.infer<typeof functionIdentitySchema>;

export const functionsResponseSchema = z.object({
  ok: z.literal(true),
  /** Whether IAM is enforced; when not, every function uses the administrator's dummy credentials. */
  iam: z.boolean(),
  functions: z.array(functionIdentitySchema),
});

export const stackSummarySchema = z.object({
  stackName: z.string(),
  resources: z.number().int(),
  functions: z.array(z.string()),
  exports: z.record(z.string(), z.string()),
});
export type StackSummary = z.infer<typeof stackSummarySchema>;

export const stacksResponseSchema = z.object({ ok: z.literal(true), stacks: z.array(stackSummarySchema) });

export const deployResponseSchema = z.object({
  ok: z.literal(true),
  stacks: z.array(
    stackSummarySchema.extend({
      /** `updated`: a stack of that name was deployed, and was replaced by the new template. */
      action: z.enum(['created', 'updated']),
      durationMs: z.number(),
    }),
  ),
});

export const destroyResponseSchema = z.object({
  ok: z.literal(true),
  stackName: z.string(),
  /** False when no such stack was deployed (destroying is idempotent). */
  destroyed: z.boolean(),
  resources: z.number().int(),
  exports: z.array(z.string()),
  /** The stacks still deployed. */
  remaining: z.array(z.string()),
});

export const errorResponseSchema = z.object({
  ok: z.literal(false),
  error: z.object({ type: z.string(), message: z.string(), hint: z.string().optional() }),
});
export type ControlErrorBody = z.infer<typeof errorResponseSchema>['error'];
