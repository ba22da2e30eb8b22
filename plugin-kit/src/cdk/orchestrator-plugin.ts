import { Annotations, CustomResource, Fn, Lazy, Stack, Tags, Token } from 'aws-cdk-lib';
import { Grant, type IGrantable, Role } from 'aws-cdk-lib/aws-iam';
import { CfnPermission, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnSubscription, type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { z } from 'zod';
import {
  type DeploymentRef,
  describeIssues,
  EXPORTS,
  PLUGIN_ENV,
  PLUGIN_TAG_KEY,
  type PluginInfo,
  pluginTagValue,
  REGISTRATION_RESOURCE_TYPE,
  type registrationSchema,
  resourceName,
  SCHEMA_VERSION,
  STAGE_NAMES,
  type StageName,
} from '../contracts/index.js';
import { InvalidPluginPropsError } from '../runtime/errors.js';
import { type AnyPluginInfoInput, closest, readPluginInfo } from '../runtime/plugin-info.js';
import type { QueueBridgeHandler, SnsPluginHandler, WrappedPluginHandler } from '../runtime/types.js';
import {
  type FilterPolicyScope,
  filterPolicyProblems,
  TARGETING_KEY,
  targetedFilterPolicy,
} from './filter-policy.js';
import { runtimeProblems } from './plugin-function.js';

/** Where and how a plugin plugs in; shared by both plugin constructs. */
export interface PluginPlacementProps {
  /**
   * The Plugboard system to plug into (the prefix of its stacks and exports).
   * @default 'plugboard'
   */
  readonly systemName?: string;
  /** The Plugboard deployment stage to plug into (its `--context stage=…`), e.g. `dev` or `prod`. */
  readonly stage: string;
  /** The activity whose stage topic the plugin subscribes to. */
  readonly activity: string;
  /**
   * The activities of the deployment, to check `activity` at synth (the error names them), e.g. the
   * keys of the `activities` in your `plugboard.config.ts`.
   * @default - the context value `plugboard:knownActivities` (e.g. in `cdk.json`), else not checked
   *   at synth: an unknown activity fails at deploy with "No export named
   *   <system>-<stage>-<activity>-<activityStage>-processing found"
   */
  readonly knownActivities?: readonly string[];
  /** The stage of the activity: `pre` and `post` run plugins one by one, `parallel` all at once. */
  readonly activityStage: StageName;
  /**
   * The plugin's `PluginInfo` (the same object the handler is wrapped with). The predecessor's
   * `pluginName` is accepted with a warning.
   * @default - the `info` of the wrapped handler (`handler`, or `bridgeHandler` for a queue plugin);
   *   one of the two is required
   */
  readonly info?: AnyPluginInfoInput;
  /**
   * The plugin's own SNS filter policy. Plugboard adds `plugins: [<name>]` to it, so it must not use
   * the key `plugins`.
   * @default - no filter of its own: the plugin receives every publish that targets it
   */
  readonly filterPolicy?: Record<string, unknown>;
  /**
   * What the filter policy applies to.
   * @default 'MessageAttributes'
   */
  readonly filterPolicyScope?: FilterPolicyScope;
}

export interface OrchestratorPluginProps extends PluginPlacementProps {
  /**
   * The plugin's function, wrapped with `orchestratorWrapperSns` (or the queue bridge). A concrete
   * `Function` (not `IFunction`) because the construct tags it and sets its environment. A Node.js
   * runtime must be 20 or later: create it with `PluginFunction` (nodejs22.x, SDK v3 external).
   */
  readonly function: LambdaFunction;
  /**
   * The wrapped handler the function runs (the module's `handler` export, from
   * `orchestratorWrapperSns` or `getOrchestratorSqsPassthrough`). When given, synth fails if its
   * `PluginInfo` differs from `info`, and `info` may be left out.
   * @default - not checked: the registrar compares nothing, the handler answers with its own info
   */
  readonly handler?: SnsPluginHandler | QueueBridgeHandler;
}

/**
 * Plugs a Lambda function into one stage of one activity of a Plugboard deployment: subscribes it to
 * the stage topic with its filter policy plus `plugins: [<name>]`, registers it through the
 * registrar's custom resource, tags it as a plugin of the deployment, sets `PLUGBOARD_STATUS_TABLE`,
 * and grants exactly what the runtime needs: `sqs:SendMessage` on the stage inbox (SQS-managed
 * encryption: no key permission), and `dynamodb:GetItem` on the status table when the plugin is
 * idempotent (and not `alwaysRun`). Nothing else.
 *
 * @example
 * ```ts
 * import { OrchestratorPlugin, PluginFunction } from '@plugboard/plugin-kit/cdk';
 *
 * const fn = new PluginFunction(this, 'CheckCredit', { entry: 'src/check-credit.ts' });
 * new OrchestratorPlugin(this, 'CheckCreditPlugin', {
 *   stage: 'dev',
 *   activity: 'approve-order',
 *   activityStage: 'parallel',
 *   info: { name: 'check-credit', default: { mandatory: true } },
 *   filterPolicy: { country: ['NL', 'BE'] },
 *   function: fn,
 * });
 * ```
 */
export class OrchestratorPlugin extends Construct {
  /** The parsed `PluginInfo` that is registered. */
  readonly info: PluginInfo;
  readonly deployment: DeploymentRef;
  /** The imported stage topic. */
  readonly topic: ITopic;
  readonly subscription: CfnSubscription;
  /** The policy of the subscription: the plugin's own plus `plugins: [<name>]`. */
  readonly filterPolicy: Record<string, unknown>;
  /** The registration custom resource. */
  readonly registration: CustomResource;
  /** ARN of the stage inbox the plugin reports to (imported). */
  readonly inboxArn: string;
  /** ARN of the deployment's KMS key (imported), for grants of your own; the plugin needs none. */
  readonly keyArn: string;
  /** Name of the status table (imported). */
  readonly statusTableName: string;
  /**
   * Role ids (`RoleId` attributes) registered as the plugin's principals: the engine accepts a report
   * for this plugin only from one of them (its SQS `SenderId`). Every role given `grantReport` is one.
   */
  private readonly principals: string[] = [];
  /** ARN of the status table (imported). */
  readonly statusTableArn: string;

  constructor(scope: Construct, id: string, props: OrchestratorPluginProps) {
    super(scope, id);
    const checked = checkPlacement(withKnownActivities(this, props), [
      ['handler', props.handler, ['sns', 'bridge']],
    ]);
    const problems = [...checked.problems, ...runtimeProblems('function.runtime', props.function.runtime)];
    if (problems.length > 0 || checked.info === undefined)
      throw new InvalidPluginPropsError(`OrchestratorPlugin ${this.node.path}`, problems);
    for (const warning of checked.warnings) {
      Annotations.of(this).addWarningV2('@plugboard/plugin-kit:deprecatedPluginInfo', warning);
    }

    const info = checked.info;
    const deployment: DeploymentRef = { systemName: props.systemName ?? 'plugboard', stage: props.stage };
    const scopeName: FilterPolicyScope = props.filterPolicyScope ?? 'MessageAttributes';
    const fn = props.function;
    this.info = info;
    this.deployment = deployment;
    this.inboxArn = Fn.importValue(EXPORTS.inboxArn(deployment, props.activity, props.activityStage));
    this.keyArn = Fn.importValue(EXPORTS.keyArn(deployment));
    this.statusTableName = Fn.importValue(EXPORTS.statusTableName(deployment));
    this.statusTableArn = Fn.importValue(EXPORTS.statusTableArn(deployment));
    this.topic = Topic.fromTopicArn(
      this,
      'Topic',
      Fn.importValue(EXPORTS.stageTopicArn(deployment, props.activity, props.activityStage)),
    );
    warnAboutPolicySize(this, props.filterPolicy, scopeName);
    this.filterPolicy = targetedFilterPolicy(info.name, props.filterPolicy);

    const permission = new CfnPermission(this, 'TopicInvokePermission', {
      action: 'lambda:InvokeFunction',
      functionName: fn.functionArn,
      principal: 'sns.amazonaws.com',
      sourceArn: this.topic.topicArn,
    });
    this.subscription = new CfnSubscription(this, 'Subscription', {
      topicArn: this.topic.topicArn,
      protocol: 'lambda',
      endpoint: fn.functionArn,
      filterPolicy: this.filterPolicy,
      filterPolicyScope: scopeName,
    });
    this.subscription.node.addDependency(permission);

    const registration: z.input<typeof registrationSchema> = {
      schemaVersion: SCHEMA_VERSION,
      activity: props.activity,
      stage: props.activityStage,
      info,
      ...(props.filterPolicy ? { filterPolicy: props.filterPolicy } : {}),
      filterPolicyScope: scopeName,
      functionArn: fn.functionArn,
    };
    this.registration = new CustomResource(this, 'Registration', {
      serviceToken: Fn.importValue(EXPORTS.registrarServiceToken(deployment)),
      resourceType: REGISTRATION_RESOURCE_TYPE,
      properties: {
        Activity: props.activity,
        Stage: props.activityStage,
        Registration: Stack.of(this).toJsonString(registration),
        // Filled by grantReport: the function's role, and for the queue bridge the consumer's.
        Principals: Lazy.list({ produce: () => this.principals }, { omitEmpty: true }),
      },
    });
    // Register only once the subscription exists, so no dispatch to this plugin can be lost.
    this.registration.node.addDependency(this.subscription);

    Tags.of(fn).add(PLUGIN_TAG_KEY, pluginTagValue(deployment), {
      includeResourceTypes: ['AWS::Lambda::Function'],
    });
    fn.addEnvironment(PLUGIN_ENV.statusTable, this.statusTableName);
    // The wrapper refuses records from any other topic (a direct invoke cannot fake a dispatch).
    fn.addEnvironment(PLUGIN_ENV.stageTopicArn, this.topic.topicArn);
    this.grantReport(fn);
    if (info.idempotent && !info.alwaysRun) this.grantStatusCheck(fn);
  }

  /**
   * Lets `grantee` send reports: `sqs:SendMessage` on the stage inbox, and registers its role as a
   * principal of the plugin (the engine refuses reports from any other sender). Inboxes use
   * SQS-managed encryption, so a sender needs no key permission. The grantee must have a role created
   * in this app (its `RoleId` is read at deploy); an imported role is granted but cannot be
   * registered, and synth warns.
   */
  grantReport(grantee: IGrantable): Grant {
    const principal = grantee.grantPrincipal;
    if (principal instanceof Role) {
      const roleId = Stack.of(this).resolve(principal.roleId) as unknown;
      if (
        !this.principals.some(
          (known) => JSON.stringify(Stack.of(this).resolve(known)) === JSON.stringify(roleId),
        )
      ) {
        this.principals.push(principal.roleId);
      }
      // Marks the role as a plugin's: the status table's resource policy denies it every write.
      Tags.of(principal).add(PLUGIN_TAG_KEY, pluginTagValue(this.deployment), {
        includeResourceTypes: ['AWS::IAM::Role'],
      });
    } else {
      Annotations.of(this).addWarningV2(
        '@plugboard/plugin-kit:unregisteredReporter',
        `grantReport: ${principal.toString()} is not a Role of this app, so its RoleId cannot be registered: once the plugin has any registered principal, the engine dead-letters this one's reports as "unauthenticated sender" (with none, they are accepted as legacy). Give the function a role created in this app (the default).`,
      );
    }
    return Grant.addToPrincipal({
      grantee,
      actions: ['sqs:SendMessage'],
      resourceArns: [this.inboxArn],
    });
  }

  /**
   * Lets `grantee` read its own status for the skip rules: `dynamodb:GetItem` on the status table,
   * in run partitions only (`dynamodb:LeadingKeys` `RUN#*`: not the plugin registry).
   */
  grantStatusCheck(grantee: IGrantable): Grant {
    return this.grantRunReads(grantee, ['dynamodb:GetItem']);
  }

  /**
   * Lets `grantee` use the status reader (`createStatusReader`): `dynamodb:GetItem` and `dynamodb:Query`
   * on the status table. Read-only.
   */
  grantReadStatus(grantee: IGrantable): Grant {
    return this.grantRunReads(grantee, ['dynamodb:GetItem', 'dynamodb:Query']);
  }

  /** `actions` on the status table itself (no index), limited to run partitions (`RUN#…`). */
  private grantRunReads(grantee: IGrantable, actions: string[]): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.statusTableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] } },
    });
  }
}

const DEPLOYMENT_NAME = /^[A-Za-z0-9-]{1,64}$/;

/** The context key that lists the deployment's activities for every plugin construct of an app. */
export const KNOWN_ACTIVITIES_CONTEXT = 'plugboard:knownActivities';

/** The props with `knownActivities` from the context when the props name none. */
export function withKnownActivities<P extends PluginPlacementProps>(scope: Construct, props: P): P {
  if (props.knownActivities !== undefined) return props;
  const fromContext: unknown = scope.node.tryGetContext(KNOWN_ACTIVITIES_CONTEXT);
  if (fromContext === undefined) return props;
  if (!Array.isArray(fromContext) || !fromContext.every((name) => typeof name === 'string')) {
    throw new InvalidPluginPropsError(`${scope.node.path}`, [
      `context ${KNOWN_ACTIVITIES_CONTEXT} (${JSON.stringify(fromContext)}): must be an array of activity names, e.g. ["approve-order", "ship-order"]`,
    ]);
  }
  return { ...props, knownActivities: fromContext };
}

/** A wrapped handler given to a construct, with the prop that named it and the kinds it may be. */
export type HandlerToCheck = readonly [
  prop: string,
  handler: WrappedPluginHandler | undefined,
  kinds: readonly WrappedPluginHandler['kind'][],
];

/** The placement props checked: every problem, the deprecation warnings, and the `PluginInfo` to use. */
export interface CheckedPlacement {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
  /** The parsed `PluginInfo`: from `info`, else from the first handler; `undefined` when invalid. */
  readonly info: PluginInfo | undefined;
}

/**
 * Checks the placement props and the wrapped handlers given with them: each handler must be of the
 * right kind and carry the same `PluginInfo` as `info` (every differing field is named).
 */
export function checkPlacement(
  props: PluginPlacementProps,
  handlers: readonly HandlerToCheck[] = [],
): CheckedPlacement {
  const problems = pluginPropsProblems(props, { infoRequired: false });
  const warnings: string[] = [];
  let info: PluginInfo | undefined;
  let infoFrom = 'info';
  if (props.info !== undefined) {
    const reading = readPluginInfo(props.info);
    warnings.push(...reading.warnings);
    if (reading.ok) info = reading.info;
    else problems.push(...reading.problems.map((problem) => `info.${problem}`));
  }
  for (const [prop, handler, kinds] of handlers) {
    if (handler === undefined) continue;
    if (!kinds.includes(handler.kind)) {
      problems.push(
        `${prop}: is a ${handler.kind} handler (${WRAPPER_OF[handler.kind]}); pass the ${kinds.map((kind) => WRAPPER_OF[kind]).join(' or ')} handler here`,
      );
      continue;
    }
    if (props.info === undefined && info === undefined) {
      info = handler.info;
      infoFrom = `${prop}.info`;
      continue;
    }
    if (info === undefined) continue;
    for (const field of differingFields(info, handler.info)) {
      problems.push(
        `${infoFrom}.${field} (${JSON.stringify(Reflect.get(info, field))}) differs from ${prop}.info.${field} (${JSON.stringify(Reflect.get(handler.info, field))}): the construct registers one PluginInfo and the handler answers with the other. Export the PluginInfo from the handler's module and pass that object to both (or leave info out to use the handler's)`,
      );
    }
  }
  if (
    props.info === undefined &&
    info === undefined &&
    !handlers.some(([, handler]) => handler !== undefined)
  ) {
    problems.push(
      `info: is required (the plugin's PluginInfo, e.g. { name: 'check-credit', default: { mandatory: true } }), unless a wrapped handler is given to take it from`,
    );
  }
  return { problems, warnings, info: problems.length === 0 ? info : undefined };
}

const WRAPPER_OF: Readonly<Record<WrappedPluginHandler['kind'], string>> = {
  sns: 'orchestratorWrapperSns',
  sqs: 'orchestratorWrapperSqs',
  bridge: 'getOrchestratorSqsPassthrough',
};

function differingFields(a: PluginInfo, b: PluginInfo): string[] {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...fields].filter(
    (field) => stableJson(Reflect.get(a, field)) !== stableJson(Reflect.get(b, field)),
  );
}

function stableJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, inner: unknown) =>
      typeof inner === 'object' && inner !== null && !Array.isArray(inner)
        ? Object.fromEntries(Object.entries(inner).sort(([x], [y]) => x.localeCompare(y)))
        : inner,
    ) ?? 'undefined'
  );
}

/**
 * Every problem with the placement props, each naming the prop, the value and the fix. `info` is
 * checked too unless `infoRequired: false` (then `checkPlacement` reads it, with its warnings).
 */
export function pluginPropsProblems(
  props: PluginPlacementProps,
  options: { readonly infoRequired?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const named = (prop: string, value: unknown): string => `${prop} (${JSON.stringify(value)})`;
  for (const [prop, value] of [
    ['systemName', props.systemName ?? 'plugboard'],
    ['stage', props.stage],
  ] as const) {
    if (!Token.isUnresolved(value) && !DEPLOYMENT_NAME.test(value)) {
      problems.push(
        `${named(prop, value)}: must be 1-64 letters, digits or dashes (it is part of export names)`,
      );
    }
  }
  if (!Token.isUnresolved(props.activity)) {
    const activity = resourceName.safeParse(props.activity);
    if (!activity.success) {
      problems.push(`${named('activity', props.activity)}: ${describeIssues(activity.error)}`);
    } else if (props.knownActivities !== undefined && !props.knownActivities.includes(props.activity)) {
      const guess = closest(props.activity, props.knownActivities);
      problems.push(
        `${named('activity', props.activity)}: is not one of the deployment's activities (${props.knownActivities.join(', ') || 'none'})${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
      );
    }
  }
  if (!(STAGE_NAMES as readonly string[]).includes(props.activityStage)) {
    const guess = closest(String(props.activityStage), STAGE_NAMES);
    const predecessor =
      String(props.activityStage) === 'async' ? ' (the predecessor\'s "async" is "parallel")' : '';
    problems.push(
      `${named('activityStage', props.activityStage)}: must be one of ${STAGE_NAMES.join(', ')}${predecessor}${guess === undefined || predecessor ? '' : `; did you mean "${guess}"?`}`,
    );
  }
  if (options.infoRequired ?? true) {
    const reading = readPluginInfo(props.info);
    if (!reading.ok) problems.push(...reading.problems.map((problem) => `info.${problem}`));
  }
  if (props.filterPolicy !== undefined && !Token.isUnresolved(props.filterPolicy)) {
    problems.push(...filterPolicyProblems(props.filterPolicy));
  }
  const scope = props.filterPolicyScope;
  if (scope !== undefined && scope !== 'MessageAttributes' && scope !== 'MessageBody') {
    problems.push(`${named('filterPolicyScope', scope)}: must be 'MessageAttributes' or 'MessageBody'`);
  }
  return problems;
}

function warnAboutPolicySize(
  scope: Construct,
  own: Record<string, unknown> | undefined,
  policyScope: FilterPolicyScope,
): void {
  if (own === undefined || policyScope !== 'MessageAttributes') return;
  const keys = Object.keys(own).filter((key) => key !== '$or');
  if (keys.length + 1 > 5) {
    Annotations.of(scope).addWarningV2(
      '@plugboard/plugin-kit:filterPolicyKeys',
      `filterPolicy has ${keys.length} keys and Plugboard adds "${TARGETING_KEY}": SNS accepts at most 5 keys per filter policy, so the subscription may be rejected. Combine rules or move them into the message body scope.`,
    );
  }
}
