/**
 * The cache of the demo's cloud assemblies (see synth.ts), without the CDK: a cache hit needs neither
 * aws-cdk-lib nor the app's constructs, whose import alone takes seconds, so `npm start` imports
 * synth.ts only when it must synthesize.
 *
 * The two cloud assemblies are cached under the OS temporary directory, keyed by a SHA-256 of every
 * source that goes into them (lib, lambdas, metrics, plugin-kit/src, examples, plugboard.config.ts,
 * cdk.json, package-lock.json) and of the stage: a second `npm start` without source changes skips
 * synthesis. `PLUGBOARD_NO_SYNTH_CACHE=1` turns the cache off.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const SOURCES = [
  'lib',
  'lambdas',
  'metrics',
  'plugin-kit/src',
  'examples',
  'plugboard.config.ts',
  'cdk.json',
  'package-lock.json',
];

export interface DemoAssemblies {
  /** The Plugboard app's cloud assembly (core, activity-*, metrics). */
  readonly app: string;
  /** The example plugins' cloud assembly. */
  readonly examples: string;
  /** Whether they came from the cache. */
  readonly cached: boolean;
  readonly key: string;
}

export interface SynthDemoOptions {
  readonly stage: string;
  /** @default - the OS temporary directory */
  readonly cacheDirectory?: string;
  /** @default true unless PLUGBOARD_NO_SYNTH_CACHE=1 */
  readonly cache?: boolean;
}

function* files(path: string): Generator<string> {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return;
  if (stats.isFile()) {
    yield path;
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name === 'cdk.out' || name.startsWith('.')) continue;
    yield* files(join(path, name));
  }
}

/** SHA-256 of the stage and of every source file (path and content) that goes into the assemblies. */
export function sourceHash(stage: string): string {
  const hash = createHash('sha256').update(`stage=${stage}\n`);
  for (const source of SOURCES) {
    for (const file of files(join(ROOT, source))) {
      hash.update(`${relative(ROOT, file)}\n`).update(readFileSync(file));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

interface CacheLocation {
  readonly key: string;
  readonly useCache: boolean;
  readonly directory: string;
}

function locate(options: SynthDemoOptions): CacheLocation {
  const key = sourceHash(options.stage);
  const useCache = options.cache ?? process.env.PLUGBOARD_NO_SYNTH_CACHE !== '1';
  const base = options.cacheDirectory ?? join(tmpdir(), 'plugboard-synth-cache');
  return { key, useCache, directory: join(base, key) };
}

function hit({ key, useCache, directory }: CacheLocation): DemoAssemblies | undefined {
  return useCache && existsSync(join(directory, 'complete'))
    ? { app: join(directory, 'app'), examples: join(directory, 'examples'), cached: true, key }
    : undefined;
}

/** Both assemblies from the cache, or undefined when they must be synthesized (or the cache is off). */
export function cachedDemo(options: SynthDemoOptions): DemoAssemblies | undefined {
  return hit(locate(options));
}

/**
 * Both assemblies, from the cache when the sources have not changed; otherwise `synthInto(directory,
 * stage)` writes them and they are cached.
 */
export function synthDemoWith(
  options: SynthDemoOptions,
  synthInto: (directory: string, stage: string) => void,
): DemoAssemblies {
  const location = locate(options);
  const found = hit(location);
  if (found !== undefined) return found;
  const { key, useCache, directory } = location;
  // Synthesize into a scratch directory and rename it into place, so a crash never leaves half a cache.
  const scratch = `${directory}.${process.pid}.tmp`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  synthInto(scratch, options.stage);
  mkdirSync(join(scratch, 'complete'));
  if (!useCache) {
    return { app: join(scratch, 'app'), examples: join(scratch, 'examples'), cached: false, key };
  }
  // Another process (a parallel test file) may have finished first: keep its copy, which may be in use.
  if (existsSync(join(directory, 'complete'))) {
    rmSync(scratch, { recursive: true, force: true });
  } else {
    rmSync(directory, { recursive: true, force: true });
    try {
      renameSync(scratch, directory);
    } catch (error) {
      if (!existsSync(join(directory, 'complete'))) throw error;
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { app: join(directory, 'app'), examples: join(directory, 'examples'), cached: false, key };
}
