/**
 * What the CLI knows of the workflows of the deployment it talks to, so that `list` knows which
 * workflows to read without --workflow, `skip` knows the activities' settings, and every command
 * refuses a workflow that is not declared instead of answering "no run" for a typo.
 *
 * Sources, first that answers (the deployment itself exports no workflow list):
 * 1. `plugboard.config.ts` in the current directory, when the CLI can load TypeScript (inside this
 *    checkout, through bin/plugboard.js);
 * 2. local cloud: the `config` field of its state file (written by `npm start -- --keep`);
 * 3. AWS: the start function's `PLUGBOARD_CONFIG` environment variable (GetFunctionConfiguration).
 * With none of them (an older state file, no permission to read the function's configuration) every
 * name is accepted.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { type ActivitySettings, DEFAULT_ACTIVITY_SETTINGS } from '../../lambdas/engine/config.js';
import type { Deployment } from './deployment.js';
import { DeploymentError, NotFoundError, UsageError } from './errors.js';
import { type DeclaredConfig, declaredConfigSchema, loadLocalState } from './local-state.js';

export const CONFIG_FILE = 'plugboard.config.ts';

export interface ProjectConfig {
  /** Workflow name → its activities, in order, as declared. */
  readonly workflows: Readonly<Record<string, readonly string[]>>;
  /** Activity name → its plugins' defaults (the engine's defaults where the source says nothing). */
  readonly activities: Readonly<Record<string, ActivitySettings>>;
  /** Where the workflows were read, for messages ("plugboard.config.ts", "the local cloud's deployment"…). */
  readonly source: string;
}

/** What the config sources need of a command: its deployment, resolved on demand. */
export interface ConfigContext {
  deployment(): Promise<Deployment>;
}

interface ConfigModule {
  default?: {
    workflows?: readonly { name?: unknown; activities?: unknown }[];
    activities?: Record<string, Partial<Record<keyof ActivitySettings, unknown>> | undefined>;
  };
}

const positive = (value: unknown, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;

function settingsOf(given: Partial<Record<keyof ActivitySettings, unknown>> = {}): ActivitySettings {
  return {
    deadlineSeconds: positive(given.deadlineSeconds, DEFAULT_ACTIVITY_SETTINGS.deadlineSeconds),
    maxAttempts: positive(given.maxAttempts, DEFAULT_ACTIVITY_SETTINGS.maxAttempts),
    retryBaseSeconds: positive(given.retryBaseSeconds, DEFAULT_ACTIVITY_SETTINGS.retryBaseSeconds),
  };
}

/**
 * How Node.js refuses a TypeScript module without a loader: no type stripping (Node 20), or type
 * stripping that cannot follow the file's `.js` imports of `.ts` sources.
 */
const UNLOADABLE_TYPESCRIPT = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
]);

/**
 * The config of `plugboard.config.ts` in `cwd`; undefined when there is none, or when this process
 * cannot load TypeScript (the packaged CLI on a Node.js without type stripping).
 */
export async function readProjectConfig(cwd = process.cwd()): Promise<ProjectConfig | undefined> {
  const path = resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  let module: ConfigModule;
  try {
    module = (await import(pathToFileURL(path).href)) as ConfigModule;
  } catch (error) {
    if (UNLOADABLE_TYPESCRIPT.has(String((error as { code?: unknown }).code))) return undefined;
    throw error;
  }
  const workflows: Record<string, readonly string[]> = {};
  for (const workflow of module.default?.workflows ?? []) {
    if (typeof workflow.name !== 'string') continue;
    const activities = Array.isArray(workflow.activities)
      ? workflow.activities.filter((a): a is string => typeof a === 'string')
      : [];
    workflows[workflow.name] = activities;
  }
  const activities: Record<string, ActivitySettings> = {};
  for (const name of new Set([
    ...Object.values(workflows).flat(),
    ...Object.keys(module.default?.activities ?? {}),
  ])) {
    activities[name] = settingsOf(module.default?.activities?.[name]);
  }
  return { workflows, activities, source: CONFIG_FILE };
}

/** A deployed config (state file or `PLUGBOARD_CONFIG`) with the engine's defaults filled in. */
export function fromDeclared(config: DeclaredConfig, source: string): ProjectConfig {
  const activities: Record<string, ActivitySettings> = {};
  for (const name of new Set([
    ...Object.values(config.workflows).flat(),
    ...Object.keys(config.activities),
  ])) {
    activities[name] = settingsOf(config.activities[name]);
  }
  return { workflows: config.workflows, activities, source };
}

/** The `PLUGBOARD_CONFIG` of the deployment's start function; undefined when it may not be read. */
export async function deployedConfig(deployment: Deployment): Promise<ProjectConfig | undefined> {
  const functionName = deployment.startFunctionName;
  let variables: Record<string, string> | undefined;
  try {
    const answer = await deployment.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    variables = answer.Environment?.Variables;
  } catch (error) {
    // Without lambda:GetFunctionConfiguration the CLI still works, only without the name check.
    if ((error as Error).name === 'AccessDeniedException') return undefined;
    throw error;
  }
  const text = variables?.PLUGBOARD_CONFIG;
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DeploymentError(
      `The start function ${functionName} has a PLUGBOARD_CONFIG that is not JSON: redeploy Plugboard.`,
      { cause: error },
    );
  }
  const parsed = declaredConfigSchema.safeParse(json);
  if (!parsed.success) {
    throw new DeploymentError(
      `The start function ${functionName} has a PLUGBOARD_CONFIG of an unexpected shape: is the CLI the same version as the deployment?`,
    );
  }
  return fromDeclared(
    parsed.data,
    `the deployment ${deployment.ref.systemName}-${deployment.ref.stage} (PLUGBOARD_CONFIG of ${functionName})`,
  );
}

const resolved = new WeakMap<ConfigContext, Promise<ProjectConfig | undefined>>();

/**
 * The declared workflows, from the first source that has them (see the module comment); undefined
 * when none has. Read once per command.
 */
export function declaredConfig(ctx: ConfigContext, cwd = process.cwd()): Promise<ProjectConfig | undefined> {
  let config = resolved.get(ctx);
  if (!config) {
    config = (async () => {
      const file = await readProjectConfig(cwd);
      if (file) return file;
      const deployment = await ctx.deployment();
      if (deployment.mode === 'local') {
        const state = await loadLocalState(process.env, cwd);
        return state.config ? fromDeclared(state.config, "the local cloud's deployment") : undefined;
      }
      return deployedConfig(deployment);
    })();
    resolved.set(ctx, config);
  }
  return config;
}

/** The workflows `list` looks at without --workflow; a usage error when nothing declares any. */
export async function configuredWorkflows(ctx: ConfigContext, cwd = process.cwd()): Promise<string[]> {
  const config = await declaredConfig(ctx, cwd);
  if (!config) {
    throw new UsageError(
      `No workflows to list: no ${CONFIG_FILE} in ${cwd}, and the deployment does not say which it declares: pass --workflow <name>.`,
    );
  }
  const names = Object.keys(config.workflows);
  if (names.length === 0)
    throw new UsageError(`${config.source} declares no workflows: pass --workflow <name>.`);
  return names;
}

/** A workflow the project does not declare (exit 1, like the start function's). */
export class UnknownWorkflowError extends NotFoundError {
  constructor(
    readonly workflow: string,
    readonly declared: readonly string[],
    source: string = CONFIG_FILE,
  ) {
    super(
      `Unknown workflow "${workflow}": ${source} declares ${
        declared.length > 0 ? declared.map((name) => `"${name}"`).join(', ') : 'no workflows'
      }. Check the name (it is case-sensitive), or declare the workflow in ${CONFIG_FILE} and deploy.`,
    );
  }
}

/** The error for a workflow `config` does not declare, or undefined when it is declared. */
export function undeclaredWorkflow(
  workflow: string,
  config: ProjectConfig,
): UnknownWorkflowError | undefined {
  const declared = Object.keys(config.workflows);
  return declared.includes(workflow)
    ? undefined
    : new UnknownWorkflowError(workflow, declared, config.source);
}

/** Refuses a workflow the declared config does not have (exit 1); accepts every name without one. */
export async function checkWorkflow(
  workflow: string,
  ctx: ConfigContext,
  cwd = process.cwd(),
): Promise<void> {
  const config = await declaredConfig(ctx, cwd);
  if (!config) return;
  const problem = undeclaredWorkflow(workflow, config);
  if (problem) throw problem;
}
