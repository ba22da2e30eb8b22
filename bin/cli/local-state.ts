/**
 * The local cloud's state file: what a running local cloud (`npm start -- --keep`) writes so that
 * `plugboard --local` finds its endpoints, the exports of the stacks it deployed and the workflows
 * they declare. The CLI looks for it in the current directory and every parent (so it works from a
 * sub-directory of a project, and from a project outside this repository), or at
 * `PLUGBOARD_LOCAL_STATE`.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DeploymentError } from './errors.js';

/** Where the state file lives, relative to a project folder, unless `PLUGBOARD_LOCAL_STATE` names one. */
export const DEFAULT_LOCAL_STATE_PATH = '.plugboard/local.json';

/**
 * The deployed workflow config as the handlers get it in `PLUGBOARD_CONFIG` (workflow → its
 * activities; activity → its plugins' defaults), so the CLI can check workflow names without the
 * project's `plugboard.config.ts`.
 */
export const declaredConfigSchema = z.object({
  workflows: z.record(z.string(), z.array(z.string())),
  activities: z
    .record(
      z.string(),
      z.object({
        deadlineSeconds: z.number().positive().optional(),
        maxAttempts: z.number().int().positive().optional(),
        retryBaseSeconds: z.number().positive().optional(),
      }),
    )
    .default({}),
});

export type DeclaredConfig = z.output<typeof declaredConfigSchema>;

/** One object, so that more fields (the local cloud's control endpoint…) are one line each. */
export const localStateSchema = z.object({
  /** The emulator endpoint (DynamoDB, SQS, SNS...). */
  endpoint: z.url(),
  /** The Lambda Invoke endpoint of the local runner. @default - `endpoint` */
  lambdaEndpoint: z.url().optional(),
  /** Base URL of the HTTP API served by the local API gateway (local/api-gateway.ts). */
  apiUrl: z.url().optional(),
  /** Base URL of the web console served by the local cloud (local/console-server.ts). */
  consoleUrl: z.url().optional(),
  region: z.string().min(1).default('us-east-1'),
  /** Every CloudFormation export of the deployed stacks, by export name. */
  exports: z.record(z.string(), z.string()),
  /** The deployed workflow config (the start function's `PLUGBOARD_CONFIG`). @default - not checked */
  config: declaredConfigSchema.optional(),
  /** PID of the process that runs the local cloud (informational). */
  pid: z.number().int().optional(),
  writtenAt: z.string().optional(),
  /** The kept cloud's control endpoint (local/control.ts) and its bearer token. @default - none (no deploy, destroy, credentials) */
  control: z.object({ url: z.url(), token: z.string().min(16) }).optional(),
});

export type LocalState = z.input<typeof localStateSchema>;
export type ParsedLocalState = z.output<typeof localStateSchema>;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where a local cloud writes its state: `PLUGBOARD_LOCAL_STATE`, or `.plugboard/local.json` under
 * `cwd` (the project that runs it).
 */
export function localStatePath(env: Env = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.PLUGBOARD_LOCAL_STATE || DEFAULT_LOCAL_STATE_PATH);
}

/**
 * The state file the CLI reads: `PLUGBOARD_LOCAL_STATE` when set (it need not exist yet: reading
 * says so), otherwise the first `.plugboard/local.json` in `cwd` or one of its parents; undefined
 * when there is none.
 */
export function findLocalState(env: Env = process.env, cwd = process.cwd()): string | undefined {
  if (env.PLUGBOARD_LOCAL_STATE) return resolve(cwd, env.PLUGBOARD_LOCAL_STATE);
  for (let directory = resolve(cwd); ; directory = dirname(directory)) {
    const candidate = join(directory, DEFAULT_LOCAL_STATE_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(directory) === directory) return undefined;
  }
}

/** Finds (see findLocalState) and reads the state file; the error says how to get one. */
export async function loadLocalState(env: Env = process.env, cwd = process.cwd()): Promise<ParsedLocalState> {
  const path = findLocalState(env, cwd);
  if (path === undefined) {
    throw new DeploymentError(
      `No local cloud state: no ${DEFAULT_LOCAL_STATE_PATH} in ${resolve(cwd)} or any folder above it. Start the local cloud in your project and keep it running (npm start -- --keep), or point PLUGBOARD_LOCAL_STATE at its state file.`,
    );
  }
  return readLocalState(path);
}

/**
 * Writes the state file atomically (temporary file, then rename), creating its folder. Mode 0600:
 * the file names the endpoints of a cloud that accepts any credentials.
 */
export async function writeLocalState(path: string, state: LocalState): Promise<void> {
  const valid = localStateSchema.parse(state);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(
    temporary,
    `${JSON.stringify({ ...valid, writtenAt: valid.writtenAt ?? new Date().toISOString() }, null, 2)}\n`,
    { mode: 0o600 },
  );
  // writeFile's mode is masked by the umask and ignored for an existing file: set it explicitly.
  await chmod(temporary, 0o600);
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
