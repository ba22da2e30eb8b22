/** The start function's direct invocation (RequestResponse), shared by `start` and `retry`. */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import type { Deployment } from './deployment.js';
import { CliError, EXIT } from './errors.js';
import type { Output } from './output.js';

export interface StartRequest {
  readonly workflow: string;
  readonly uid: string;
  readonly metadata?: Record<string, unknown>;
  readonly rerun?: boolean;
  readonly metadataOverride?: boolean;
}

const responseSchema = z.union([
  z.object({
    ok: z.literal(true),
    outcome: z.enum(['started', 'existing', 'rerun']),
    run: z.object({
      workflow: z.string(),
      uid: z.string(),
      generation: z.number(),
      state: z.string(),
      createdAt: z.string(),
    }),
  }),
  z.object({
    ok: z.literal(false),
    error: z.object({ type: z.string(), message: z.string(), retryable: z.boolean() }),
  }),
]);

export type StartAnswer = z.infer<typeof responseSchema>;

/** A refusal of the start function (`{ok:false}`): exit 1 with its type and message. */
export class StartRefusedError extends CliError {
  constructor(readonly answer: Extract<StartAnswer, { ok: false }>) {
    super(`${answer.error.type}: ${answer.error.message}`);
  }
}

/** A refusal ends the command: printed as it is with `--json` (exit 1), otherwise as an error. */
export function refusedStart(out: Output, answer: Extract<StartAnswer, { ok: false }>): number {
  if (!out.json) throw new StartRefusedError(answer);
  out.data(answer);
  return EXIT.failure;
}

export async function invokeStart(deployment: Deployment, request: StartRequest): Promise<StartAnswer> {
  const functionName = deployment.startFunctionName;
  const output = await deployment.lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(request)),
    }),
  );
  const text = output.Payload ? new TextDecoder().decode(output.Payload) : '';
  if (output.FunctionError) {
    throw new CliError(
      `The start function ${functionName} failed (${output.FunctionError}): ${text.slice(0, 500)}. Look at its logs; the request was not necessarily applied.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `The start function ${functionName} answered something that is not JSON: ${text.slice(0, 200)}`,
      {
        cause: error,
      },
    );
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) {
    throw new CliError(
      `The start function ${functionName} answered an unexpected shape: ${text.slice(0, 200)}. Is the CLI the same version as the deployment?`,
    );
  }
  return parsed.data;
}
