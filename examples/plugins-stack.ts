/**
 * The example plugins, deployed the way a plugin team deploys theirs: a stack of their own that imports
 * the Plugboard deployment's exports through the plugin kit's constructs. Nothing here touches the
 * orchestrator's stacks; deleting this stack unplugs every example.
 *
 * | activity   | pre            | parallel                                                        | post              |
 * | ---------- | -------------- | --------------------------------------------------------------- | ----------------- |
 * | intake     | validate-order | record-order                                                    | (none)            |
 * | fulfilment | (none)         | reserve-stock, charge-payment, gift-wrap*, track-courier*, loyalty-points* (queue bridge) | ship-order |
 * | notify     | (none)         | request-review*                                                 | send-confirmation |
 *
 * (* optional). Stages without plugins complete at once.
 */
import { fileURLToPath } from 'node:url';
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { OrchestratorPlugin, OrchestratorQueuePlugin } from '../plugin-kit/src/cdk/index.js';
import type { PluginInfoInput, StageName } from '../plugin-kit/src/index.js';
import { info as chargePayment } from './plugins/charge-payment.js';
import { info as giftWrap } from './plugins/gift-wrap.js';
import { info as loyaltyPoints } from './plugins/loyalty-points.js';
import { info as recordOrder } from './plugins/record-order.js';
import { info as requestReview } from './plugins/request-review.js';
import { info as reserveStock } from './plugins/reserve-stock.js';
import { info as sendConfirmation } from './plugins/send-confirmation.js';
import { info as shipOrder } from './plugins/ship-order.js';
import { info as trackCourier } from './plugins/track-courier.js';
import { info as validateOrder } from './plugins/validate-order.js';

export interface ExamplePluginsStackProps extends StackProps {
  /** The Plugboard deployment to plug into (`--context stage=…`). */
  readonly deploymentStage: string;
  /** @default 'plugboard' */
  readonly systemName?: string;
}

/** How every example function is built: ESM bundles of the TypeScript entry, with esbuild. */
const FUNCTION_DEFAULTS: Partial<NodejsFunctionProps> = {
  runtime: Runtime.NODEJS_22_X,
  architecture: Architecture.ARM_64,
  memorySize: 256,
  timeout: Duration.seconds(5),
  bundling: {
    format: OutputFormat.ESM,
    target: 'node20',
    minify: true,
    keepNames: true,
    externalModules: [],
    banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
};

const entry = (plugin: string): string => fileURLToPath(new URL(`./plugins/${plugin}.ts`, import.meta.url));

export class ExamplePluginsStack extends Stack {
  constructor(scope: Construct, id: string, props: ExamplePluginsStackProps) {
    super(scope, id, props);
    const deployment = { stage: props.deploymentStage, systemName: props.systemName ?? 'plugboard' };

    /** One SNS-subscribed plugin: a function from `plugins/<name>.ts` plugged into a stage. */
    const plug = (
      activity: string,
      activityStage: StageName,
      info: PluginInfoInput,
      extra: { readonly filterPolicy?: Record<string, unknown>; readonly timeout?: Duration } = {},
    ): { plugin: OrchestratorPlugin; fn: NodejsFunction } => {
      const { timeout, ...placement } = extra;
      const fn = new NodejsFunction(this, `${info.name}-fn`, {
        ...FUNCTION_DEFAULTS,
        entry: entry(info.name),
        ...(timeout === undefined ? {} : { timeout }),
      });
      const plugin = new OrchestratorPlugin(this, `${info.name}-plugin`, {
        ...deployment,
        activity,
        activityStage,
        info,
        ...placement,
        function: fn,
      });
      return { plugin, fn };
    };

    plug('intake', 'pre', validateOrder);
    plug('intake', 'parallel', recordOrder);

    plug('fulfilment', 'parallel', reserveStock);
    plug('fulfilment', 'parallel', chargePayment);
    // SNS filter policy on the run's metadata (scalar metadata becomes message attributes; booleans
    // as strings): gift-wrap only sees runs that ask for it.
    plug('fulfilment', 'parallel', giftWrap, { filterPolicy: { giftWrap: ['true'] } });
    // Its hang outlasts the default 5 s timeout on purpose (see the plugin).
    plug('fulfilment', 'parallel', trackCourier, { timeout: Duration.seconds(15) });
    new OrchestratorQueuePlugin(this, 'loyalty-points-plugin', {
      ...deployment,
      activity: 'fulfilment',
      activityStage: 'parallel',
      info: loyaltyPoints,
      bridge: new NodejsFunction(this, 'loyalty-points-bridge', {
        ...FUNCTION_DEFAULTS,
        entry: entry('loyalty-points'),
        handler: 'bridge',
      }),
      consumer: new NodejsFunction(this, 'loyalty-points-consumer', {
        ...FUNCTION_DEFAULTS,
        entry: entry('loyalty-points'),
        handler: 'handler',
      }),
      maxConcurrency: 2,
    });
    const ship = plug('fulfilment', 'post', shipOrder);
    // ship-order reads reserve-stock's result: grant it read access to the status table.
    ship.plugin.grantReadStatus(ship.fn);

    plug('notify', 'parallel', requestReview);
    plug('notify', 'post', sendConfirmation);
  }
}
