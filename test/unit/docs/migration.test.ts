/**
 * docs/migration.md stays true: the predecessor-shaped plugin it prints, with only its import
 * changed, fails with the message the guide shows; the migrated plugin, exactly as printed, runs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { WrappedPluginHandler } from '../../../plugin-kit/src/index.js';
import { runPlugin } from '../../../plugin-kit/src/testing/index.js';
import { titledBlocks } from './doc-blocks.js';

const GUIDE = fileURLToPath(new URL('../../../docs/migration.md', import.meta.url));
const KIT = fileURLToPath(new URL('../../../plugin-kit/src/index.ts', import.meta.url));
const blocks = titledBlocks(GUIDE);
const dir = mkdtempSync(join(tmpdir(), 'plugboard-migration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a block as a module that imports the kit from this checkout, and imports it. */
async function load(title: string, fromPackage: string): Promise<Record<string, unknown>> {
  const source = blocks.get(title);
  if (source === undefined) throw new Error(`docs/migration.md has no block titled ${title}`);
  expect(source).toContain(`from '${fromPackage}'`);
  // The predecessor's types do not exist in the kit: type-only imports vanish when the module is compiled.
  const file = join(dir, title.replace('/', '-'));
  writeFileSync(file, source.replace(`from '${fromPackage}'`, `from ${JSON.stringify(KIT)}`));
  return (await import(file)) as Record<string, unknown>;
}

function wrapped(module: Record<string, unknown>): WrappedPluginHandler {
  const handler = module.handler;
  if (typeof handler !== 'function' || !('withOptions' in handler))
    throw new Error('no wrapped handler export');
  return handler as WrappedPluginHandler;
}

describe('docs/migration.md', () => {
  it('the predecessor’s plugin with only the import changed fails with the message the guide shows', async () => {
    const guide = readFileSync(GUIDE, 'utf8');

    const failure = await load('before/credit-check.ts', '@moe-tech/orchestrator').then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toMatch(/^Invalid PluginInfo: name \("Credit Check"\): must not contain spaces/);
    expect(guide).toContain(message);
  });

  it('the migrated plugin, exactly as printed, reports Complete with its result', async () => {
    const module = await load('after/credit-check.ts', '@plugboard/plugin-kit');
    const handler = wrapped(module);

    const run = await runPlugin(handler, { message: { metadata: { customerId: 'vip-7' } } });

    expect(handler.info).toMatchObject({ name: 'credit-check', order: 10, default: { mandatory: true } });
    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    expect(run.result).toEqual({ score: 800 });
  });

  it('the migrated plugin reports its final failures with their codes, not retried', async () => {
    const handler = wrapped(await load('after/credit-check.ts', '@plugboard/plugin-kit'));

    const low = await runPlugin(handler, { message: { metadata: { customerId: 'c-1' } } });
    const missing = await runPlugin(handler, { message: { metadata: {} } });

    expect(low.finalReport).toMatchObject({ status: 'Error', retryable: false, code: 'LOW_SCORE' });
    expect(missing.finalReport).toMatchObject({ status: 'Error', retryable: false, code: 'NO_CUSTOMER' });
  });

  it('the predecessor’s info with only the name fixed runs, with warnings for the deprecated keys', async () => {
    const source = blocks.get('before/credit-check.ts') ?? '';
    const fixed = source
      .replace("pluginName: 'Credit Check'", "pluginName: 'credit-check'")
      .replace('return OrchestratorComponentState.Complete;', 'return undefined;');
    const file = join(dir, 'before-name-fixed.ts');
    writeFileSync(file, fixed.replace("from '@moe-tech/orchestrator'", `from ${JSON.stringify(KIT)}`));
    const handler = wrapped((await import(file)) as Record<string, unknown>);

    const run = await runPlugin(handler, { message: { metadata: { customerId: 'vip-1' } } });

    // Metadata is nested now (step 6): the predecessor's top-level read finds no customerId.
    expect(run.finalReport).toMatchObject({ status: 'Error', message: 'the order has no customerId' });
    expect(handler.info.name).toBe('credit-check');
    const warnings = run.logs.filter((entry) => entry.level === 'warn').map((entry) => entry.message);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'PluginInfo.pluginName is deprecated: rename it to name ("credit-check")',
        expect.stringMatching(/^PluginInfo\.default\.pluginRegisterTimeout is ignored/),
      ]),
    );
  });
});
