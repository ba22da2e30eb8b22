/**
 * Synthesizes the Plugboard app (core, activities, metrics) and the example plugins' app in-process,
 * with esbuild bundling, exactly as `cdk synth` composes them but without the CDK CLI's start-up and
 * CloudFormation validation (which take most of `cdk synth`'s 30 s here). The assemblies are cached
 * (synth-cache.ts): an unchanged tree skips synthesis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { synthExamples } from '../../examples/app.js';
import { composePlugboard } from '../../lib/plugboard-app.js';
import config from '../../plugboard.config.js';
import { type DemoAssemblies, ROOT, type SynthDemoOptions, synthDemoWith } from './synth-cache.js';

export { type DemoAssemblies, ROOT, type SynthDemoOptions, sourceHash } from './synth-cache.js';

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
  return synthDemoWith(options, synthInto);
}
