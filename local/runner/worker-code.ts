/**
 * Compiles worker-main.ts into the script every execution environment runs. Worker threads cannot
 * load TypeScript (tsx and vitest transform only the main thread), so the runner bundles the worker
 * entry with esbuild once at start-up (~20 ms) and starts workers from the resulting CommonJS text.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { LocalCloudError } from '../errors.js';

export async function compileWorkerCode(): Promise<string> {
  const entry = ['./worker-main.ts', './worker-main.js']
    .map((candidate) => fileURLToPath(new URL(candidate, import.meta.url)))
    .find((file) => existsSync(file));
  if (entry === undefined) throw new LocalCloudError('local/runner/worker-main.ts is missing');
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    const [output] = result.outputFiles;
    if (output === undefined) throw new LocalCloudError('esbuild produced no output for the Lambda worker');
    return output.text;
  } catch (error) {
    throw new LocalCloudError(`could not compile the Lambda worker (${entry}) with esbuild`, {
      cause: error,
    });
  }
}
