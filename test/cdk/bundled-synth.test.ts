import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cfnLint, synthApp } from '../support/synth.js';

describe('the whole app, bundled', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'plugboard-synth-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('bundles every handler as an ESM module with a source map and passes cfn-lint with 0 errors', () => {
    const { assembly } = synthApp({ stage: 'dev', bundling: true, outdir });

    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    // start, sweeper, registrar, one stage bundle shared by all nine stage orchestrators, the
    // metrics stack's liveness check, and the HTTP API's function
    expect(assets).toHaveLength(6);
    for (const asset of assets) {
      const bundle = readFileSync(join(outdir, asset, 'index.mjs'), 'utf8');
      expect(
        bundle.startsWith("import { createRequire as __plugboardCreateRequire } from 'node:module';"),
      ).toBe(true);
      expect(bundle).toContain('//# sourceMappingURL=index.mjs.map');
      expect(existsSync(join(outdir, asset, 'index.mjs.map'))).toBe(true);
    }
    expect(assembly.stacks).toHaveLength(6); // core, three activities, metrics, api

    expect(() => cfnLint(outdir)).not.toThrow();
  }, 300_000); // esbuild for every handler and cfn-lint: half a minute here, more on a loaded machine
});
