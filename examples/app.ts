/**
 * The example plugins' own CDK app, as a plugin team would have it:
 *
 *   npx cdk deploy --app 'npx tsx examples/app.ts' --context stage=dev
 *
 * It deploys one stack, `<system>-<stage>-example-plugins`, after Plugboard's own stacks (it imports
 * their exports). `npm start` synthesizes it in-process with `synthExamples` below.
 */
import { App } from 'aws-cdk-lib';
import { ExamplePluginsStack } from './plugins-stack.js';

export interface ExamplesAppOptions {
  readonly stage: string;
  readonly systemName?: string;
  /** Where the cloud assembly goes. @default - the CDK's default (`cdk.out`, or the CLI's choice) */
  readonly outdir?: string;
  /** Extra context (e.g. `aws:cdk:bundling-stacks`). */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** The stack name of the example plugins for a deployment. */
export const examplesStackName = (stage: string, systemName = 'plugboard'): string =>
  `${systemName}-${stage}-example-plugins`;

/** Composes the examples app (without synthesizing it). */
export function composeExamples(
  app: App,
  options: Pick<ExamplesAppOptions, 'stage' | 'systemName'>,
): ExamplePluginsStack {
  const name = examplesStackName(options.stage, options.systemName);
  return new ExamplePluginsStack(app, name, {
    stackName: name,
    deploymentStage: options.stage,
    ...(options.systemName === undefined ? {} : { systemName: options.systemName }),
  });
}

/** Composes and synthesizes the examples app; returns the assembly directory. */
export function synthExamples(options: ExamplesAppOptions): string {
  const app = new App({
    context: { ...options.context },
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
  });
  composeExamples(app, options);
  return app.synth().directory;
}

// Run as the CDK app (`--app 'npx tsx examples/app.ts'`): the stage comes from the context.
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const app = new App();
  const stage: unknown = app.node.tryGetContext('stage');
  const systemName: unknown = app.node.tryGetContext('systemName');
  composeExamples(app, {
    stage: typeof stage === 'string' ? stage : 'dev',
    ...(typeof systemName === 'string' ? { systemName } : {}),
  });
  app.synth();
}
