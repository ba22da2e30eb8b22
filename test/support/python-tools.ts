/**
 * Vitest global setup: makes `moto_server` (integration tests) and `cfn-lint` (template and docs
 * tests) runnable before any test starts: from PATH, or from the project's Python environment, created
 * with the pinned versions when they are missing (local/python-env.ts). The workers start after this
 * and inherit the PATH.
 */
import { resolve } from 'node:path';
import { ensurePythonTools } from '../../local/python-env.js';

export async function setup(): Promise<void> {
  const { path } = await ensurePythonTools({
    tools: ['moto_server', 'cfn-lint'],
    root: resolve(import.meta.dirname, '../..'),
  });
  process.env.PATH = path;
}
