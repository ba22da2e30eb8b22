import {
  type CfnElement,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { START_FUNCTION_ENV } from '../lambdas/api/handler.js';
import { type Permission, ROUTES, type Route, SCOPES } from '../lambdas/api/routes.js';
import { type DeploymentRef, EXPORTS } from '../plugin-kit/src/contracts/index.js';
import { declaredActivities, runtimeConfigJson, type WorkflowConfig } from './config/workflow-config.js';
import { tagEngineRole } from './engine-identity.js';
import { PlugboardCdkError } from './errors.js';
import { LifecycleEventBus } from './lifecycle-event-bus.js';
import { orchestratorEnvironment } from './orchestrator-environment.js';
import { OrchestratorFunction } from './orchestrator-function.js';
import { grantTableAccess } from './table-grants.js';

/** Export names of the API stack (docs/api.md). */
export const API_EXPORTS = {
  url: (d: DeploymentRef) => `${d.systemName}-${d.stage}-api-url`,
  apiId: (d: DeploymentRef) => `${d.systemName}-${d.stage}-api-id`,
  policyArn: (d: DeploymentRef, permission: Permission) =>
    `${d.systemName}-${d.stage}-api-${permission}-policy-arn`,
} as const;

/** Context keys that turn on the JWT authorizer instead of IAM: both must be given. */
export const API_JWT_CONTEXT = { issuer: 'apiJwtIssuer', audience: 'apiJwtAudience' } as const;

export interface ApiJwtSettings {
  /** The OIDC issuer URL (its `/.well-known/openid-configuration` is read by API Gateway). */
  readonly issuer: string;
  /** Audiences (`aud` or `client_id`) a token must be for. */
  readonly audience: readonly string[];
}

export interface ApiStackProps extends StackProps {
  readonly deployment: DeploymentRef;
  readonly config: WorkflowConfig;
  /**
   * Whether the deployment stage is ephemeral (log groups are destroyed with the stack).
   * @default false
   */
  readonly ephemeral?: boolean;
  /**
   * Authorize routes with JWTs of this issuer (scopes per route, `SCOPES`) instead of IAM.
   * @default - IAM (SigV4) on every route; the exported managed policies grant the routes
   */
  readonly jwt?: ApiJwtSettings;
  /**
   * Steady-state requests per second the stage accepts (API Gateway throttling).
   * @default 100
   */
  readonly throttleRateLimit?: number;
  /**
   * Burst of requests the stage accepts above the rate.
   * @default 200
   */
  readonly throttleBurstLimit?: number;
}

/** Which permissions include which: an operator may read, a starter may read. */
const GRANTS: Readonly<Record<Permission, readonly Permission[]>> = {
  read: ['read'],
  start: ['read', 'start'],
  operate: ['read', 'operate'],
};

/**
 * `<system>-<stage>-api`: the HTTP API (API Gateway HTTP API, ADR 0006) in front of one function
 * (`lambdas/api/handler.ts`). Every route of `ROUTES`, and a `$default` route that answers unknown
 * paths and methods with a problem, is authorized with IAM (SigV4) unless `jwt` is set. Managed
 * policies for a reader, a starter (all workflows, and one per workflow) and an operator grant
 * `execute-api:Invoke` on exactly their routes, and are exported for callers' roles.
 */
export class ApiStack extends Stack {
  readonly api: HttpApi;
  readonly apiFunction: OrchestratorFunction;
  /** Managed policies by permission. */
  readonly policies: Readonly<Record<Permission, ManagedPolicy>>;
  /** Starter policies limited to one workflow, by workflow name. */
  readonly workflowStarterPolicies: Readonly<Record<string, ManagedPolicy>>;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    validateProps(props);
    const d = props.deployment;
    const prefix = `${d.systemName}-${d.stage}`;
    const removal = props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    const table = Table.fromTableAttributes(this, 'StatusTable', {
      tableArn: Fn.importValue(EXPORTS.statusTableArn(d)),
    });
    const eventsTopicArn = Fn.importValue(EXPORTS.eventsTopicArn(d));
    const eventsTopic = Topic.fromTopicArn(this, 'EventsTopic', eventsTopicArn);
    const key = Key.fromKeyArn(this, 'Key', Fn.importValue(EXPORTS.keyArn(d)));
    const startFunctionArn = Fn.importValue(EXPORTS.startFunctionArn(d));
    // With `events.eventBridge` on, a cancel's run.cancelled goes to the bus too, as the engine's do.
    const eventBus =
      props.config.events.eventBridge === false
        ? undefined
        : LifecycleEventBus.fromExports(this, 'LifecycleEventBus', d);

    this.apiFunction = new OrchestratorFunction(this, 'ApiFunction', {
      handler: 'api',
      description: `Plugboard ${prefix}: the HTTP API (start, status, list, operator actions)`,
      timeout: Duration.seconds(29),
      logRemovalPolicy: removal,
      environment: {
        ...orchestratorEnvironment({
          deployment: d,
          tableName: Fn.importValue(EXPORTS.statusTableName(d)),
          eventsTopicArn,
          runtimeConfig: runtimeConfigJson(props.config),
        }),
        ...eventBus?.environment(),
        [START_FUNCTION_ENV]: Fn.importValue(EXPORTS.startFunctionName(d)),
      },
    });
    const fn = this.apiFunction;
    // Reads, the runs listing, and the operator's writes (cancel, skip) as the CLI's operator path
    // makes them: the engine's conditional writes on the table.
    tagEngineRole(fn.role, d);
    grantTableAccess(table, fn, 'api');
    // Starts go through the start function, never around it.
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [startFunctionArn] }),
    );
    // Cancel publishes run.cancelled; skip nudges the plugin's stage inbox.
    fn.allowPublish(eventsTopic, key);
    eventBus?.grantPutEvents(fn);
    fn.allowSendToInboxes(d, declaredActivities(props.config));
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData (plugin liveness for GET /plugins) supports no resource-level permissions; the statement holds nothing else.',
    });
    Validations.of(fn.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked synchronously by API Gateway, which returns its errors to the caller; there is no event to dead-letter.',
    });

    const integration = new HttpLambdaIntegration('ApiIntegration', fn.function, {
      timeout: Duration.seconds(29),
    });
    this.api = new HttpApi(this, 'HttpApi', {
      apiName: `${prefix}-api`,
      description: `Plugboard ${prefix}: start, follow and operate runs`,
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: removal,
    });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 100, burstLimit: props.throttleBurstLimit ?? 200 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            sourceIp: '$context.identity.sourceIp',
            principal: '$context.identity.userArn',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const authorizer: IHttpRouteAuthorizer = props.jwt
      ? new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, { jwtAudience: [...props.jwt.audience] })
      : new HttpIamAuthorizer();
    for (const route of ROUTES) {
      new HttpRoute(this, `Route-${route.id}`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration,
        authorizer,
        ...(props.jwt ? { authorizationScopes: [SCOPES[route.permission]] } : {}),
      });
    }
    // Unknown paths and methods reach the function too, which answers 404/405 as problems.
    new HttpRoute(this, 'Route-default', {
      httpApi: this.api,
      routeKey: HttpRouteKey.DEFAULT,
      integration,
      authorizer,
      ...(props.jwt ? { authorizationScopes: [SCOPES.read] } : {}),
    });

    const apiId = `<${Stack.of(this).getLogicalId(this.api.node.defaultChild as CfnElement)}>`;
    const policyFor = (id: string, permission: Permission, description: string, workflow?: string) => {
      const resources = ROUTES.filter((r) => GRANTS[permission].includes(r.permission)).map((r) => ({
        method: r.method,
        path:
          r.permission === 'start' && workflow !== undefined
            ? r.path.replace('{workflow}', workflow)
            : r.path,
      }));
      const policy = new ManagedPolicy(this, id, {
        description,
        statements: [
          new PolicyStatement({
            actions: ['execute-api:Invoke'],
            resources: resources.map((r) =>
              this.api.arnForExecuteApi(r.method, pathPattern(r), stage.stageName),
            ),
          }),
        ],
      });
      Validations.of(policy).acknowledge(
        ...resources
          .filter((r) => r.path.includes('{'))
          .map((r) => ({
            id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${apiId}/${stage.stageName}/${r.method}${pathPattern(r)}]`,
            reason:
              'A route ARN has * where the route has a path parameter (workflow, uid, activity, stage, plugin): the policy grants exactly this route of this API, for any run.',
          })),
      );
      return policy;
    };
    this.policies = {
      read: policyFor('ReaderPolicy', 'read', `Plugboard ${prefix} API: read runs, workflows, plugins`),
      start: policyFor(
        'StarterPolicy',
        'start',
        `Plugboard ${prefix} API: start runs of every workflow, and read`,
      ),
      operate: policyFor(
        'OperatorPolicy',
        'operate',
        `Plugboard ${prefix} API: rerun, retry, cancel, skip, and read`,
      ),
    };
    this.workflowStarterPolicies = Object.fromEntries(
      props.config.workflows.map((w) => [
        w.name,
        policyFor(
          `StarterPolicy-${w.name}`,
          'start',
          `Plugboard ${prefix} API: start runs of ${w.name}, and read`,
          w.name,
        ),
      ]),
    );

    this.url = this.api.apiEndpoint;
    new CfnOutput(this, 'ApiUrl', {
      value: this.url,
      exportName: API_EXPORTS.url(d),
      description: 'Base URL of the HTTP API',
    });
    new CfnOutput(this, 'ApiId', {
      value: this.api.apiId,
      exportName: API_EXPORTS.apiId(d),
      description: 'Id of the HTTP API (execute-api resource ARNs)',
    });
    for (const [permission, policy] of Object.entries(this.policies)) {
      new CfnOutput(this, `${permission.charAt(0).toUpperCase()}${permission.slice(1)}PolicyArn`, {
        value: policy.managedPolicyArn,
        exportName: API_EXPORTS.policyArn(d, permission as Permission),
        description: `Managed policy: the API's ${permission} permission`,
      });
    }
  }

  /** Lets `grantee` call the routes of `permission` (a start limited to `workflow` when given). */
  grantInvoke(grantee: IGrantable, permission: Permission, workflow?: string): void {
    const policy =
      permission === 'start' && workflow !== undefined
        ? this.workflowStarterPolicies[workflow]
        : this.policies[permission];
    if (policy === undefined) {
      throw new PlugboardCdkError(
        `grantInvoke: workflow "${workflow}" is not declared; declared: ${Object.keys(this.workflowStarterPolicies).join(', ')}`,
      );
    }
    const role = grantee.grantPrincipal as unknown as { addManagedPolicy?: (p: ManagedPolicy) => void };
    if (typeof role.addManagedPolicy !== 'function') {
      throw new PlugboardCdkError('grantInvoke: the grantee must be a role (or a construct with one)');
    }
    role.addManagedPolicy(policy);
  }
}

/** A route's path as IAM matches it: each `{parameter}` is one `*`. */
function pathPattern(route: Pick<Route, 'path'>): string {
  return route.path.replace(/\{\w+\}/g, '*');
}

function validateProps(props: ApiStackProps): void {
  const problems: string[] = [];
  const { jwt } = props;
  if (jwt !== undefined) {
    if (!Token.isUnresolved(jwt.issuer) && !/^https:\/\/[^\s/]+/.test(jwt.issuer)) {
      problems.push(`jwt.issuer is "${jwt.issuer}"; use the https:// URL of the OIDC issuer`);
    }
    if (jwt.audience.length === 0) problems.push('jwt.audience is empty; name at least one audience');
  }
  for (const [name, value] of [
    ['throttleRateLimit', props.throttleRateLimit],
    ['throttleBurstLimit', props.throttleBurstLimit],
  ] as const) {
    if (value !== undefined && !Token.isUnresolved(value) && !(value > 0)) {
      problems.push(`${name} is ${value}; use a positive number, or leave it out`);
    }
  }
  if (problems.length > 0) throw new PlugboardCdkError(`Invalid ApiStack props: ${problems.join('; ')}`);
}
