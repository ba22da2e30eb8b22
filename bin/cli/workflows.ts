/**
 * What the CLI knows of the project it runs in: the workflows and activity settings of
 * `plugboard.config.ts` in the current directory (the CLI runs inside the project that deploys
 * Plugboard; the deployment itself exports no workflow list). `list` reads its workflows from there
 * when no --workflow is given; every command refuses a workflow the file does not declare, instead of
 * answering "no run" for a typo.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ActivitySettings, DEFAULT_ACTIVITY_SETTINGS } from '../../lambdas/engine/config.js';
import { NotFoundError, UsageError } from './errors.js';

export const CONFIG_FILE = 'plugboard.config.ts';

export interface ProjectConfig {
  /** Workflow name → its activities, in order, as declared. */
  readonly workflows: Readonly<Record<string, readonly string[]>>;
  /** Activity name → its plugins' defaults (the engine's defaults where the file says nothing). */
  readonly activities: Readonly<Record<string, ActivitySettings>>;
}

interface ConfigModule {
  default?: {
    workflows?: readonly { name?: unknown; activities?: unknown }[];
    activities?: Record<string, Partial<Record<keyof ActivitySettings, unknown>> | undefined>;
  };
}

const positive = (value: unknown, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;

/** The project's config, or undefined when the current directory has no `plugboard.config.ts`. */
export async function readProjectConfig(cwd = process.cwd()): Promise<ProjectConfig | undefined> {
  const path = resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  const module = (await import(pathToFileURL(path).href)) as ConfigModule;
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
    const given = module.default?.activities?.[name] ?? {};
    activities[name] = {
      deadlineSeconds: positive(given.deadlineSeconds, DEFAULT_ACTIVITY_SETTINGS.deadlineSeconds),
      maxAttempts: positive(given.maxAttempts, DEFAULT_ACTIVITY_SETTINGS.maxAttempts),
      retryBaseSeconds: positive(given.retryBaseSeconds, DEFAULT_ACTIVITY_SETTINGS.retryBaseSeconds),
    };
  }
  return { workflows, activities };
}

/** The workflows `list` looks at without --workflow; a usage error when there is no config to read. */
export async function configuredWorkflows(cwd = process.cwd()): Promise<string[]> {
  const config = await readProjectConfig(cwd);
  if (!config) {
    throw new UsageError(`No ${CONFIG_FILE} in ${cwd} to read the workflows from: pass --workflow <name>.`);
  }
  const names = Object.keys(config.workflows);
  if (names.length === 0)
    throw new UsageError(`${CONFIG_FILE} declares no workflows: pass --workflow <name>.`);
  return names;
}

/** A workflow the project's `plugboard.config.ts` does not declare (exit 1, like the start function's). */
export class UnknownWorkflowError extends NotFoundError {
  constructor(
    readonly workflow: string,
    readonly declared: readonly string[],
  ) {
    super(
      `Unknown workflow "${workflow}": ${CONFIG_FILE} declares ${
        declared.length > 0 ? declared.map((name) => `"${name}"`).join(', ') : 'no workflows'
      }. Check the name (it is case-sensitive), or declare the workflow there and deploy.`,
    );
  }
}

/** The error for a workflow `config` does not declare, or undefined when it is declared. */
export function undeclaredWorkflow(
  workflow: string,
  config: ProjectConfig,
): UnknownWorkflowError | undefined {
  const declared = Object.keys(config.workflows);
  return declared.includes(workflow) ? undefined : new UnknownWorkflowError(workflow, declared);
}

/**
 * Refuses a workflow the project's config does not declare (exit 1). Without a config
 * file in the current directory there is nothing to check against, and every name is accepted.
 */
export async function checkWorkflow(workflow: string, cwd = process.cwd()): Promise<void> {
  const config = await readProjectConfig(cwd);
  if (!config) return;
  const problem = undeclaredWorkflow(workflow, config);
  if (problem) throw problem;
}
