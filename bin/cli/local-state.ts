/**
 * The local cloud's state file: what a running local cloud (`npm start`) writes so that
 * `plugboard --local` finds its endpoints and the exports of the stacks it deployed.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { DeploymentError } from './errors.js';

/** Where the state file lives unless `PLUGBOARD_LOCAL_STATE` names another path. */
export const DEFAULT_LOCAL_STATE_PATH = '.plugboard/local.json';

export const localStateSchema = z.object({
  /** The emulator endpoint (DynamoDB, SQS, SNS...). */
  endpoint: z.url(),
  /** The Lambda Invoke endpoint of the local runner. @default - `endpoint` */
  lambdaEndpoint: z.url().optional(),
  /** Base URL of the HTTP API served by the local API gateway (local/api-gateway.ts). */
  apiUrl: z.url().optional(),
  region: z.string().min(1).default('us-east-1'),
  /** Every CloudFormation export of the deployed stacks, by export name. */
  exports: z.record(z.string(), z.string()),
  /** PID of the process that runs the local cloud (informational). */
  pid: z.number().int().optional(),
  writtenAt: z.string().optional(),
});

export type LocalState = z.input<typeof localStateSchema>;
export type ParsedLocalState = z.output<typeof localStateSchema>;

/** The path of the state file: `PLUGBOARD_LOCAL_STATE`, or `.plugboard/local.json` under `cwd`. */
export function localStatePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
): string {
  return resolve(cwd, env.PLUGBOARD_LOCAL_STATE || DEFAULT_LOCAL_STATE_PATH);
}

/** Writes the state file atomically (temporary file, then rename), creating its folder. */
export async function writeLocalState(path: string, state: LocalState): Promise<void> {
  const valid = localStateSchema.parse(state);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(
    temporary,
    `${JSON.stringify({ ...valid, writtenAt: valid.writtenAt ?? new Date().toISOString() }, null, 2)}\n`,
  );
  await rename(temporary, path);
}

/** Reads and validates the state file; the error says how to start a local cloud. */
export async function readLocalState(path: string): Promise<ParsedLocalState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DeploymentError(
      `No local cloud state at ${path}. Start the local cloud and keep it running (npm start -- --keep), or point PLUGBOARD_LOCAL_STATE at its state file.`,
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DeploymentError(
      `The local cloud state ${path} is not JSON; restart the local cloud (npm start -- --keep).`,
      {
        cause: error,
      },
    );
  }
  const parsed = localStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new DeploymentError(
      `The local cloud state ${path} is invalid (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); restart the local cloud (npm start -- --keep).`,
    );
  }
  return parsed.data;
}
