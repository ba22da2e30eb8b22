import { Annotations, type App, Tags } from 'aws-cdk-lib';
import { MetricsStack } from '../metrics/metrics-stack.js';
import { type DeploymentRef, startQueueName } from '../plugin-kit/src/contracts/index.js';
import { ActivityStack } from './activity-stack.js';
import { API_JWT_CONTEXT, type ApiJwtSettings, ApiStack } from './api-stack.js';
import { readDeploymentContext } from './config/deployment-context.js';
import {
  declaredActivities,
  isEphemeralStage,
  parseWorkflowConfig,
  type WorkflowConfig,
} from './config/workflow-config.js';
import { CONSOLE_CONTEXT, ConsoleStack } from './console-stack.js';
import { CoreStack } from './core-stack.js';
import { PlugboardCdkError } from './errors.js';
import { applyNagChecks } from './nag-checks.js';

/** Tag keys every Plugboard resource carries. Deliberately not `plugboard:system` (the plugin tag). */
export const TAG_KEYS = { systemName: 'plugboard:system-name', stage: 'plugboard:deployment-stage' } as const;

export interface PlugboardAppProps {
  /** The workflow config as written in `plugboard.config.ts`; validated here. */
  readonly config: unknown;
  /**
   * Whether the cdk-nag packs (AwsSolutions, Serverless) check the app at synth.
   * @default true
   */
  readonly nag?: boolean;
}

/** The stacks of one deployment. */
export interface PlugboardStacks {
  readonly deployment: DeploymentRef;
  readonly config: WorkflowConfig;
  readonly ephemeral: boolean;
  readonly core: CoreStack;
  /** One stack per declared activity, in declaration order. */
  readonly activities: readonly ActivityStack[];
  /** Liveness metrics, stuck-run alerts, dashboard and alarms. */
  readonly metrics: MetricsStack;
  /** The HTTP API (`<system>-<stage>-api`). */
  readonly api: ApiStack;
  /** The web console (`<system>-<stage>-console`), when `--context console=true`. */
  readonly console?: ConsoleStack;
}

/**
 * Composes one deployment of Plugboard into `app` from the CDK context (`stage`, `systemName`,
 * `ephemeral`) and the workflow config: `<system>-<stage>-core` and one
 * `<system>-<stage>-activity-<name>` per activity, tagged, with cdk-nag checks.
 * Throws one error listing every bad context value or config entry.
 */
export function composePlugboard(app: App, props: PlugboardAppProps): PlugboardStacks {
  const context = readDeploymentContext((key) => app.node.tryGetContext(key));
  const deployment: DeploymentRef = { systemName: context.systemName, stage: context.stage };
  const { config, warnings } = parseWorkflowConfig(props.config, deployment);
  const ephemeral = context.ephemeral ?? isEphemeralStage(config, deployment.stage);
  const prefix = `${deployment.systemName}-${deployment.stage}`;
  const tags = { [TAG_KEYS.systemName]: deployment.systemName, [TAG_KEYS.stage]: deployment.stage };
  const kind = ephemeral ? 'ephemeral' : 'retained';

  const core = new CoreStack(app, `${prefix}-core`, {
    stackName: `${prefix}-core`,
    description: `Plugboard ${prefix} (${kind}): status table, start queue, sweeper, registrar, events topic`,
    deployment,
    config,
    ephemeral,
    tags,
  });
  for (const warning of warnings) {
    Annotations.of(core).addWarningV2(
      '@plugboard/config:unused-activity',
      `${warning.path}: ${warning.message}`,
    );
  }

  const activities = declaredActivities(config).map((activityName) => {
    const stack = new ActivityStack(app, `${prefix}-activity-${activityName}`, {
      stackName: `${prefix}-activity-${activityName}`,
      description: activityDescription(prefix, activityName, config),
      deployment,
      config,
      activityName,
      ephemeral,
      tags,
    });
    stack.addStackDependency(core, 'imports the status table, events topic and key from the core exports');
    return stack;
  });

  // The metrics stack depends on core only (through core's exports): it can be deployed on its own.
  const metrics = new MetricsStack(app, `${prefix}-metrics`, {
    stackName: `${prefix}-metrics`,
    description: `Plugboard ${prefix}: liveness metrics, stuck-run alerts, dashboard and alarms`,
    deployment,
    workflows: config.workflows.map((w) => w.name),
    activities: declaredActivities(config),
    additionalDeadLetterQueueNames: [`${startQueueName(deployment)}-dlq`],
    ephemeral,
    tags,
  });
  metrics.addStackDependency(core, 'imports the status table and key from the core exports');

  const apiJwt = apiJwtOf(app);
  const api = new ApiStack(app, `${prefix}-api`, {
    stackName: `${prefix}-api`,
    description: `Plugboard ${prefix}: the HTTP API (start, status, list, operator actions)`,
    deployment,
    config,
    ephemeral,
    tags,
    ...apiJwt,
  });
  api.addStackDependency(
    core,
    'imports the status table, events topic, key and start function from the core exports',
  );

  const consoleStack = consoleOf(app, prefix, deployment, apiJwt.jwt?.issuer, ephemeral, tags);
  consoleStack?.addStackDependency(api, 'imports the API URL from the API exports');

  for (const [key, value] of Object.entries(tags)) Tags.of(app).add(key, value);
  if (props.nag ?? true) applyNagChecks(app);
  return {
    deployment,
    config,
    ephemeral,
    core,
    activities,
    metrics,
    api,
    ...(consoleStack ? { console: consoleStack } : {}),
  };
}

/** The API's JWT authorizer from the context (`apiJwtIssuer` and `apiJwtAudience`, comma-separated). */
function apiJwtOf(app: App): { jwt?: ApiJwtSettings } {
  const issuer = app.node.tryGetContext(API_JWT_CONTEXT.issuer) as unknown;
  const audience = app.node.tryGetContext(API_JWT_CONTEXT.audience) as unknown;
  if ((issuer === undefined || issuer === '') && (audience === undefined || audience === '')) return {};
  if (typeof issuer !== 'string' || issuer === '' || typeof audience !== 'string' || audience === '') {
    throw new PlugboardCdkError(
      `The API's JWT authorizer needs both --context ${API_JWT_CONTEXT.issuer}=<https issuer URL> and --context ${API_JWT_CONTEXT.audience}=<audience[,audience…]>; only one was given.`,
    );
  }
  return {
    jwt: {
      issuer,
      audience: audience
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    },
  };
}

/** The console stack when `--context console=true` (it signs in through the API's JWT option). */
function consoleOf(
  app: App,
  prefix: string,
  deployment: DeploymentRef,
  issuer: string | undefined,
  ephemeral: boolean,
  tags: Record<string, string>,
): ConsoleStack | undefined {
  const enabled = app.node.tryGetContext(CONSOLE_CONTEXT.enabled) as unknown;
  if (enabled !== true && enabled !== 'true') return undefined;
  const clientId = app.node.tryGetContext(CONSOLE_CONTEXT.clientId) as unknown;
  if (issuer === undefined || typeof clientId !== 'string' || clientId === '') {
    throw new PlugboardCdkError(
      `The console (--context ${CONSOLE_CONTEXT.enabled}=true) signs in with OIDC through the API's JWT option: give --context ${API_JWT_CONTEXT.issuer}=…, --context ${API_JWT_CONTEXT.audience}=… and --context ${CONSOLE_CONTEXT.clientId}=<the console's public OIDC client id>.`,
    );
  }
  return new ConsoleStack(app, `${prefix}-console`, {
    stackName: `${prefix}-console`,
    description: `Plugboard ${prefix}: the web console (S3 + CloudFront, the API under /api)`,
    deployment,
    oidcIssuer: issuer,
    oidcClientId: clientId,
    ephemeral,
    tags,
  });
}

function activityDescription(prefix: string, activity: string, config: WorkflowConfig): string {
  const described = config.activities[activity]?.description;
  const base = `Plugboard ${prefix}: activity ${activity} (pre, parallel and post stage topics, inboxes, orchestrators)`;
  return described ? `${base}: ${described}` : base;
}
