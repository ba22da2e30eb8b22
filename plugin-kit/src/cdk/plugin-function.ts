/**
 * The Lambda function of a plugin, with the runtime and bundling the kit needs: a `NodejsFunction`
 * that runs on a supported Node.js runtime even in a project whose `cdk.json` has no feature flags
 * (where `NodejsFunction` alone picks `nodejs16.x` and bundles the AWS SDK v3 into the asset), and
 * keeps the AWS SDK v3 external, since every supported runtime provides it.
 */
import { Runtime, RuntimeFamily } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { InvalidPluginPropsError } from '../runtime/errors.js';

/** The Node.js runtime a plugin function gets when its props name none. */
export const DEFAULT_PLUGIN_RUNTIME = Runtime.NODEJS_22_X;
/** The oldest Node.js major the kit runs on (its `engines` say `>=20.19`; Lambda's nodejs20.x is newer). */
export const MIN_NODE_MAJOR = 20;
/** What the bundler leaves out of a plugin's asset by default: the AWS SDK v3, provided by the runtime. */
export const DEFAULT_EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*'];

export interface PluginFunctionProps extends NodejsFunctionProps {
  /**
   * The Lambda runtime: a Node.js runtime of major version 20 or later.
   * @default Runtime.NODEJS_22_X
   */
  readonly runtime?: Runtime;
}

/**
 * A `NodejsFunction` for a plugin (or its queue bridge or consumer): `runtime` defaults to
 * `nodejs22.x` and must be Node.js 20 or later, and `bundling.externalModules` defaults to
 * `['@aws-sdk/*']` (the SDK v3 the runtime provides; the kit's clients use only long-stable calls).
 * Every other prop is `NodejsFunction`'s.
 *
 * @example
 * ```ts
 * import { OrchestratorPlugin, PluginFunction } from '@plugboard/plugin-kit/cdk';
 *
 * new OrchestratorPlugin(this, 'CheckCredit', {
 *   stage: 'dev',
 *   activity: 'approve-order',
 *   activityStage: 'parallel',
 *   info,
 *   function: new PluginFunction(this, 'CheckCreditFn', { entry: 'src/check-credit.ts' }),
 * });
 * ```
 */
export class PluginFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PluginFunctionProps = {}) {
    const runtime = props.runtime ?? DEFAULT_PLUGIN_RUNTIME;
    const problems = runtimeProblems('runtime', runtime);
    if (problems.length > 0) {
      throw new InvalidPluginPropsError(
        `PluginFunction ${[scope.node.path, id].filter(Boolean).join('/')}`,
        problems,
      );
    }
    super(scope, id, {
      ...props,
      runtime,
      bundling: {
        ...props.bundling,
        externalModules: props.bundling?.externalModules ?? [...DEFAULT_EXTERNAL_MODULES],
      },
    });
  }
}

/**
 * Problems with the runtime of a function that runs the kit: a Node.js runtime older than
 * {@link MIN_NODE_MAJOR}. Other runtime families pass (a plugin in another language implements the
 * contract itself and uses the constructs only to plug in).
 */
export function runtimeProblems(prop: string, runtime: Runtime): string[] {
  if (runtime.family !== RuntimeFamily.NODEJS) return [];
  const major = /^nodejs(\d+)/.exec(runtime.name)?.[1];
  if (major !== undefined && Number(major) >= MIN_NODE_MAJOR) return [];
  return [
    `${prop} (${runtime.name}): the plugin kit needs Node.js ${MIN_NODE_MAJOR} or later (nodejs20.x, nodejs22.x). Set runtime: Runtime.NODEJS_22_X, or create the function with PluginFunction, which does. (NodejsFunction picks nodejs16.x when the runtime is not set and cdk.json lacks the flag @aws-cdk/aws-lambda-nodejs:useLatestRuntimeVersion.)`,
  ];
}
