/**
 * Which workflows `list` looks at when no --workflow is given: those of `plugboard.config.ts` in the
 * current directory (the CLI runs inside the project that deploys Plugboard). The deployment itself
 * exports no workflow list.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';

export const CONFIG_FILE = 'plugboard.config.ts';

export async function configuredWorkflows(cwd = process.cwd()): Promise<string[]> {
  const path = resolve(cwd, CONFIG_FILE);
  if (!existsSync(path)) {
    throw new UsageError(`No ${CONFIG_FILE} in ${cwd} to read the workflows from: pass --workflow <name>.`);
  }
  const module = (await import(pathToFileURL(path).href)) as {
    default?: { workflows?: readonly { name?: unknown }[] };
  };
  const names = (module.default?.workflows ?? [])
    .map((w) => w.name)
    .filter((n): n is string => typeof n === 'string');
  if (names.length === 0)
    throw new UsageError(`${CONFIG_FILE} declares no workflows: pass --workflow <name>.`);
  return names;
}
