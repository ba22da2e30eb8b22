/**
 * Synthesizes the Plugboard app (core, activities, metrics) and the example plugins' app in-process,
 * with esbuild bundling, exactly as `cdk synth` composes them but without the CDK CLI's start-up and
 * CloudFormation validation (which take most of `cdk synth`'s 30 s here).
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
import { App } from 'aws-cdk-lib';
import { synthExamples } from '../../examples/app.js';
import { composePlugboard } from '../../lib/plugboard-app.js';
import config from '../../plugboard.config.js';

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

/** The feature flags of cdk.json, as `cdk synth` applies them. */
function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return { ...parsed.context };
}

/** Synthesizes both apps into `directory/app` and `directory/examples`. */
export function synthInto(directory: string, stage: string): void {
  const context = cdkJsonContext();
  const app = new App({
    context: { ...context, stage, ephemeral: true },
    outdir: join(directory, 'app'),
    builtinCloudFormationValidation: false,
  });
  composePlugboard(app, { config, nag: false });
  app.synth();
  synthExamples({ stage, outdir: join(directory, 'examples'), context });
}

/** Both assemblies, from the cache when the sources have not changed. */
export function synthDemo(options: SynthDemoOptions): DemoAssemblies {
  const key = sourceHash(options.stage);
  const useCache = options.cache ?? process.env.PLUGBOARD_NO_SYNTH_CACHE !== '1';
  const base = options.cacheDirectory ?? join(tmpdir(), 'plugboard-synth-cache');
  const directory = join(base, key);
  if (useCache && existsSync(join(directory, 'complete'))) {
    return { app: join(directory, 'app'), examples: join(directory, 'examples'), cached: true, key };
  }
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
