/**
 * The constructs guide at synth: a supported Node.js runtime (set by PluginFunction, refused when too
 * old), the SDK kept out of the bundle, the handler's PluginInfo compared with the construct's, known
 * activities and stage names suggested, the predecessor's pluginName warned about.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OrchestratorPlugin,
  type OrchestratorPluginProps,
  OrchestratorQueuePlugin,
  PluginFunction,
} from '../../src/cdk/index.js';
import {
  getOrchestratorSqsPassthrough,
  isInvalidPluginPropsError,
  orchestratorWrapperSns,
  orchestratorWrapperSqs,
} from '../../src/index.js';

const INFO = { name: 'check-credit', default: { mandatory: true } } as const;

function newStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'PluginStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function inlineFunction(stack: Stack, id: string, runtime: Runtime): LambdaFunction {
  return new LambdaFunction(stack, id, {
    runtime,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => undefined;'),
  });
}

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (error) {
    if (isInvalidPluginPropsError(error)) return error.problems;
    throw error;
  }
  return [];
}

function plug(stack: Stack, props: Partial<OrchestratorPluginProps> = {}): OrchestratorPlugin {
  return new OrchestratorPlugin(stack, 'Plugin', {
    stage: 'dev',
    activity: 'approve-order',
    activityStage: 'parallel',
    info: INFO,
    function: props.function ?? inlineFunction(stack, 'Fn', Runtime.NODEJS_22_X),
    ...props,
  });
}

describe('plugin constructs: runtime', { timeout: 60_000 }, () => {
  it('refuses a function on a Node.js runtime older than 20, naming the prop and the fix', () => {
    const stack = newStack();

    const problems = problemsOf(() =>
      plug(stack, { function: inlineFunction(stack, 'Old', Runtime.NODEJS_16_X) }),
    );

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^function\.runtime \(nodejs16\.x\): the plugin kit needs Node\.js 20 or later .*Set runtime: Runtime\.NODEJS_22_X, or create the function with PluginFunction/,
    );
  });

  it('refuses old runtimes of a queue plugin’s bridge and consumer separately', () => {
    const stack = newStack();

    const problems = problemsOf(
      () =>
        new OrchestratorQueuePlugin(stack, 'Queue', {
          stage: 'dev',
          activity: 'ship-order',
          activityStage: 'post',
          info: INFO,
          bridge: inlineFunction(stack, 'Bridge', Runtime.NODEJS_18_X),
          consumer: inlineFunction(stack, 'Consumer', Runtime.NODEJS_16_X),
        }),
    );

    expect(problems.map((problem) => problem.split(' ')[0])).toEqual(['bridge.runtime', 'consumer.runtime']);
  });

  it('accepts Node.js 20, 22 and later, and runtimes of other languages', () => {
    for (const runtime of [
      Runtime.NODEJS_20_X,
      Runtime.NODEJS_22_X,
      Runtime.NODEJS_24_X,
      Runtime.PYTHON_3_13,
    ]) {
      const stack = newStack();
      expect(() => plug(stack, { function: inlineFunction(stack, 'Fn', runtime) })).not.toThrow();
    }
  });

  it('PluginFunction runs on nodejs22.x when no runtime is given', () => {
    const stack = newStack();

    new PluginFunction(stack, 'Fn', {
      code: Code.fromInline('exports.handler = 1'),
      handler: 'index.handler',
    });

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x' });
  });

  it('PluginFunction refuses an unsupported runtime with the fix', () => {
    const stack = newStack();

    const problems = problemsOf(
      () =>
        new PluginFunction(stack, 'Fn', {
          runtime: Runtime.NODEJS_18_X,
          code: Code.fromInline('x'),
          handler: 'index.handler',
        }),
    );

    expect(problems[0]).toMatch(/^runtime \(nodejs18\.x\): the plugin kit needs Node\.js 20 or later/);
  });
});

describe('PluginFunction bundling', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'plugboard-plugin-function-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the AWS SDK v3 out of the bundle by default', () => {
    const entry = fileURLToPath(new URL('../fixtures/sdk-user.ts', import.meta.url));
    const app = new App({ outdir: join(dir, 'cdk.out') });
    const stack = new Stack(app, 'Bundled');

    new PluginFunction(stack, 'Fn', {
      entry,
      depsLockFilePath: join(process.cwd(), 'package-lock.json'),
      bundling: { forceDockerBundling: false },
    });
    app.synth();

    const assetDir = readdirSync(join(dir, 'cdk.out')).find((name) => name.startsWith('asset.'));
    expect(assetDir).toBeDefined();
    const bundle = readFileSync(join(dir, 'cdk.out', String(assetDir), 'index.js'), 'utf8');
    expect(bundle).toMatch(/require\("@aws-sdk\/client-sqs"\)|from "@aws-sdk\/client-sqs"/);
    expect(bundle.length).toBeLessThan(20_000);
  });
});

describe('plugin constructs: PluginInfo of the handler', { timeout: 60_000 }, () => {
  it('fails synth when the handler’s PluginInfo differs, naming each field', () => {
    const stack = newStack();
    const handler = orchestratorWrapperSns({ ...INFO, order: 10 }, async () => undefined);

    const problems = problemsOf(() => plug(stack, { handler }));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^info\.order \(90\) differs from handler\.info\.order \(10\): /);
  });

  it('takes the PluginInfo from the handler when info is left out', () => {
    const stack = newStack();
    const handler = orchestratorWrapperSns({ ...INFO, order: 10 }, async () => undefined);

    const plugin = plug(stack, { info: undefined, handler });

    expect(plugin.info).toMatchObject({ name: 'check-credit', order: 10 });
  });

  it('accepts the same PluginInfo given to both', () => {
    const stack = newStack();

    expect(() => plug(stack, { handler: orchestratorWrapperSns(INFO, async () => undefined) })).not.toThrow();
  });

  it('refuses a handler of the wrong kind, and neither info nor handler', () => {
    const stack = newStack();
    const consumer = orchestratorWrapperSqs(INFO, async () => undefined);

    expect(problemsOf(() => plug(stack, { handler: consumer as never }))[0]).toMatch(
      /^handler: is a sqs handler \(orchestratorWrapperSqs\); pass the orchestratorWrapperSns or getOrchestratorSqsPassthrough handler here/,
    );
    expect(problemsOf(() => plug(newStack(), { info: undefined }))[0]).toMatch(/^info: is required/);
  });

  it('checks a queue plugin’s bridge and consumer handlers against each other', () => {
    const stack = newStack();

    const problems = problemsOf(
      () =>
        new OrchestratorQueuePlugin(stack, 'Queue', {
          stage: 'dev',
          activity: 'ship-order',
          activityStage: 'post',
          bridge: inlineFunction(stack, 'Bridge', Runtime.NODEJS_22_X),
          consumer: inlineFunction(stack, 'Consumer', Runtime.NODEJS_22_X),
          bridgeHandler: getOrchestratorSqsPassthrough(INFO),
          consumerHandler: orchestratorWrapperSqs({ ...INFO, alwaysRun: true }, async () => undefined),
        }),
    );

    expect(problems).toEqual([
      expect.stringMatching(
        /^bridgeHandler\.info\.alwaysRun \(false\) differs from consumerHandler\.info\.alwaysRun \(true\)/,
      ),
    ]);
  });
});

describe('plugin constructs: names', { timeout: 60_000 }, () => {
  it('names the known activities (and the nearest) for an unknown one', () => {
    const problems = problemsOf(() =>
      plug(newStack(), { activity: 'aprove-order', knownActivities: ['approve-order', 'ship-order'] }),
    );

    expect(problems).toEqual([
      'activity ("aprove-order"): is not one of the deployment\'s activities (approve-order, ship-order); did you mean "approve-order"?',
    ]);
  });

  it('reads the known activities from the context plugboard:knownActivities when the props name none', () => {
    const app = new App({
      context: { 'aws:cdk:bundling-stacks': [], 'plugboard:knownActivities': ['intake'] },
    });
    const stack = new Stack(app, 'PluginStack');

    expect(problemsOf(() => plug(stack, { activity: 'approve-order' }))).toEqual([
      'activity ("approve-order"): is not one of the deployment\'s activities (intake)',
    ]);
    expect(() => plug(new Stack(app, 'Other'), { activity: 'intake' })).not.toThrow();
  });

  it('explains the predecessor’s async stage and suggests for a typo', () => {
    expect(problemsOf(() => plug(newStack(), { activityStage: 'async' as never }))[0]).toBe(
      'activityStage ("async"): must be one of pre, parallel, post (the predecessor\'s "async" is "parallel")',
    );
    expect(problemsOf(() => plug(newStack(), { activityStage: 'paralel' as never }))[0]).toMatch(
      /did you mean "parallel"\?$/,
    );
  });

  it('accepts pluginName with a synth warning, and registers it as name', () => {
    const stack = newStack();

    const plugin = plug(stack, { info: { pluginName: 'check-credit', default: { mandatory: true } } });

    expect(plugin.info.name).toBe('check-credit');
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('pluginName is deprecated: rename it to name'),
    );
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Subscription', {
      FilterPolicy: { plugins: ['check-credit'] },
    });
  });

  it('refuses a plugin name with spaces at synth with the rule', () => {
    expect(
      problemsOf(() => plug(newStack(), { info: { name: 'Check Credit', default: { mandatory: true } } })),
    ).toEqual([
      expect.stringMatching(
        /^info\.name \("Check Credit"\): must not contain spaces; plugin names are 1-64 letters/,
      ),
    ]);
  });
});
