/**
 * Registrar: the CloudFormation custom resource provider behind `Custom::PlugboardPluginRegistration`.
 * Create/Update store a plugin's registration, Delete removes it. Every path — success, bad input,
 * a failing initialize call, an unexpected error, or running out of time — answers CloudFormation, so
 * a stack never hangs on a registration.
 *
 * A registration belongs to the stack that created it (the event's `StackId`, which CloudFormation
 * sets and a template cannot): another stack's Create or Update of the same (activity, stage, plugin)
 * fails its deploy naming the owner, and its Delete succeeds for CloudFormation but leaves the record.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { z } from 'zod';
import { readPluginInfo } from '../../plugin-kit/src/runtime/plugin-info.js';
import { DynamoRegistry, type RemoveOutcome } from '../adapters/dynamo-registry.js';
import {
  describeIssues,
  type PluginInfo,
  type Registration,
  registrationSchema,
  STAGE_NAMES,
  type StageName,
} from '../contracts/index.js';
import { validateFilterPolicy } from '../engine/filter-policy.js';
import { createObservability, type Observability } from './observability.js';
import { readCommonConfig } from './runtime-config.js';

export class RegistrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistrationError';
  }
}

/** Asks a plugin function for its PluginInfo, the predecessor's way. */
export interface PluginInitializer {
  initialize(functionArn: string): Promise<unknown>;
}

export class LambdaInitializer implements PluginInitializer {
  constructor(private readonly client: LambdaClient) {}

  async initialize(functionArn: string): Promise<unknown> {
    const response = await this.client.send(
      new InvokeCommand({
        FunctionName: functionArn,
        Payload: Buffer.from(JSON.stringify({ initialize: true })),
      }),
    );
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    if (response.FunctionError) {
      throw new RegistrationError(
        `The initialize call to ${functionArn} failed (${response.FunctionError}): ${text.slice(0, 500)}`,
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RegistrationError(
        `The initialize call to ${functionArn} did not answer JSON: ${text.slice(0, 200)}`,
      );
    }
  }
}

/** A JSON document given either as JSON text or as a CloudFormation object (YAML/JSON template). */
const jsonOrObject = z.union([z.string(), z.record(z.string(), z.unknown())], {
  error: 'must be an object or its JSON text',
});

const propertiesSchema = z.object({
  Activity: z.string({ error: 'Activity is required: the activity name, e.g. "approve-order"' }),
  Stage: z.enum(STAGE_NAMES, {
    error: (issue) =>
      `Stage ${JSON.stringify(issue.input)} must be one of ${STAGE_NAMES.join(', ')}${issue.input === 'async' ? ' (the predecessor\'s "async" is "parallel")' : ''}`,
  }),
  Registration: jsonOrObject.optional(),
  FunctionArn: z.string().optional(),
  FilterPolicy: jsonOrObject.optional(),
  FilterPolicyScope: z.enum(['MessageAttributes', 'MessageBody']).optional(),
  /** Role ids (`AROA…`) that may report for the plugin; the kit passes its functions' `RoleId`s. */
  Principals: z
    .array(z.string(), { error: 'Principals must be a list of role ids, e.g. [!GetAtt PluginRole.RoleId]' })
    .optional(),
});

/**
 * CloudFormation passes every scalar in a custom resource's properties as a string (`true` → "true",
 * `10` → "10"). A Registration or FilterPolicy given as an object is turned back into the types the
 * contracts expect; JSON text is parsed as it is.
 */
function fromProperty(
  value: string | Record<string, unknown>,
  what: string,
  restore: (v: unknown) => unknown,
) {
  return typeof value === 'string' ? parseJson(value, what) : restore(value);
}

const asBoolean = (value: unknown): unknown => (value === 'true' ? true : value === 'false' ? false : value);
const asNumber = (value: unknown): unknown =>
  typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;

function mapObject(
  value: unknown,
  map: (entry: Record<string, unknown>) => Record<string, unknown>,
): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? map(value as Record<string, unknown>)
    : value;
}

function withFields(
  entry: Record<string, unknown>,
  fields: Readonly<Record<string, (value: unknown) => unknown>>,
): Record<string, unknown> {
  const copy = { ...entry };
  for (const [field, restore] of Object.entries(fields)) {
    if (field in copy) copy[field] = restore(copy[field]);
  }
  return copy;
}

/** Restores the typed values of a registration given as a CloudFormation object. */
export function restoreRegistration(value: unknown): unknown {
  return mapObject(value, (registration) =>
    withFields(registration, {
      schemaVersion: asNumber,
      filterPolicy: restoreFilterPolicy,
      info: (info) =>
        mapObject(info, (entry) =>
          withFields(entry, {
            default: (defaults) => mapObject(defaults, (d) => withFields(d, { mandatory: asBoolean })),
            overrides: (overrides) =>
              mapObject(overrides, (byActivity) =>
                Object.fromEntries(
                  Object.entries(byActivity).map(([activity, override]) => [
                    activity,
                    mapObject(override, (o) => withFields(o, { mandatory: asBoolean })),
                  ]),
                ),
              ),
            order: asNumber,
            idempotent: asBoolean,
            alwaysRun: asBoolean,
            deadlineSeconds: asNumber,
            maxAttempts: asNumber,
            reportInProgress: asBoolean,
          }),
        ),
    }),
  );
}

/**
 * Restores the typed values of a filter policy given as a CloudFormation object: the operands of
 * `numeric` become numbers and `exists` a boolean. Other values stay strings, so an exact numeric
 * match (`[100]`) must be written `{"numeric": ["=", 100]}` or given as JSON text.
 */
export function restoreFilterPolicy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(restoreFilterPolicy);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      if (key === 'numeric' && Array.isArray(inner)) return [key, inner.map(asNumber)];
      if (key === 'exists') return [key, asBoolean(inner)];
      return [key, restoreFilterPolicy(inner)];
    }),
  );
}

const PHYSICAL_PREFIX = 'plugboard-registration';
const physicalId = (r: Pick<Registration, 'activity' | 'stage' | 'info'>) =>
  `${PHYSICAL_PREFIX}:${r.activity}:${r.stage}:${r.info.name}`;

function parsePhysicalId(
  id: string | undefined,
): { activity: string; stage: StageName; plugin: string } | undefined {
  const parts = id?.split(':') ?? [];
  if (parts.length !== 4 || parts[0] !== PHYSICAL_PREFIX) return undefined;
  const [, activity, stage, plugin] = parts;
  if (!activity || !plugin || !(STAGE_NAMES as readonly string[]).includes(stage ?? '')) return undefined;
  return { activity, stage: stage as StageName, plugin };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RegistrationError(`${what} is not valid JSON: give it as an object, or as JSON text.`);
  }
}

/** The registry as the registrar uses it: writes and removes under the owner's condition. */
export interface OwnedRegistry {
  /** Stores the registration; throws when another owner holds it (nothing is written). */
  put(registration: Registration): Promise<void>;
  /** Removes the registration if `owner` holds it (or nobody does). */
  removeOwned(activity: string, stage: StageName, plugin: string, owner: string): Promise<RemoveOutcome>;
}

export interface RegistrarDeps {
  readonly registry: OwnedRegistry;
  readonly initializer: PluginInitializer;
  readonly knownActivities: readonly string[];
  readonly observability: Observability;
  /** Sends the response to CloudFormation's pre-signed URL. */
  readonly respond?: (url: string, body: CloudFormationResponse) => Promise<void>;
}

export interface CloudFormationResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** Builds the registration a custom resource describes (calling initialize when only a function is named). */
export async function resolveRegistration(
  properties: unknown,
  deps: Pick<RegistrarDeps, 'initializer' | 'knownActivities'>,
): Promise<Registration> {
  const props = propertiesSchema.safeParse(properties);
  if (!props.success)
    throw new RegistrationError(`Invalid registration properties: ${describeIssues(props.error)}`);
  const { Activity, Stage } = props.data;
  if (!deps.knownActivities.includes(Activity)) {
    throw new RegistrationError(
      `Activity "${Activity}" is not part of this Plugboard deployment (known: ${deps.knownActivities.join(', ')}).`,
    );
  }
  let candidate: unknown;
  if (props.data.Registration !== undefined) {
    candidate = fromProperty(props.data.Registration, 'The Registration property', restoreRegistration);
  } else if (props.data.FunctionArn !== undefined) {
    const answer = await deps.initializer.initialize(props.data.FunctionArn);
    // The predecessor's PluginInfo (pluginName, default.pluginRegisterTimeout) is read as the kit reads it.
    const info = readPluginInfo(answer);
    if (!info.ok) {
      throw new RegistrationError(
        `The initialize call to ${props.data.FunctionArn} did not answer a valid PluginInfo: ${info.problems.join('; ')}`,
      );
    }
    candidate = {
      activity: Activity,
      stage: Stage,
      info: info.info satisfies PluginInfo,
      functionArn: props.data.FunctionArn,
      ...(props.data.FilterPolicy
        ? {
            filterPolicy: fromProperty(
              props.data.FilterPolicy,
              'The FilterPolicy property',
              restoreFilterPolicy,
            ),
          }
        : {}),
      ...(props.data.FilterPolicyScope ? { filterPolicyScope: props.data.FilterPolicyScope } : {}),
    };
  } else {
    throw new RegistrationError(
      'Set either Registration (the registration, as an object or its JSON text) or FunctionArn (to call initialize).',
    );
  }
  if (props.data.Principals !== undefined) {
    candidate = mapObject(candidate, (entry) => ({ ...entry, principals: props.data.Principals }));
  }
  const registration = registrationSchema.safeParse(candidate);
  if (!registration.success) {
    throw new RegistrationError(`Invalid registration: ${describeIssues(registration.error)}`);
  }
  if (registration.data.activity !== Activity || registration.data.stage !== Stage) {
    throw new RegistrationError(
      `The registration names ${registration.data.activity}/${registration.data.stage}, but the resource's Activity/Stage are ${Activity}/${Stage}.`,
    );
  }
  if (registration.data.filterPolicy) {
    try {
      validateFilterPolicy(registration.data.filterPolicy, registration.data.filterPolicyScope);
    } catch (error) {
      throw new RegistrationError(`Invalid filter policy: ${(error as Error).message}`, { cause: error });
    }
  }
  return registration.data;
}

export async function putResponse(url: string, body: CloudFormationResponse): Promise<void> {
  const payload = JSON.stringify(body);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      const response = await fetch(url, {
        method: 'PUT',
        body: payload,
        headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(payload)) },
      });
      if (response.ok) return;
      lastError = new Error(`HTTP ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  throw new RegistrationError('Could not send the response to CloudFormation.', { cause: lastError });
}

export function createRegistrarHandler(deps: RegistrarDeps) {
  const respond = deps.respond ?? putResponse;
  const { logger } = deps.observability;

  async function perform(
    event: CloudFormationCustomResourceEvent,
  ): Promise<{ physicalId: string; data?: Record<string, string> }> {
    if (event.RequestType === 'Delete') {
      const target = parsePhysicalId(event.PhysicalResourceId);
      if (target) {
        const outcome = await deps.registry.removeOwned(
          target.activity,
          target.stage,
          target.plugin,
          event.StackId,
        );
        // The stack is going away either way: its Delete succeeds, and the owner's registration stays.
        if (!outcome.removed) {
          logger.warn('registration of another stack left in place', {
            physicalId: event.PhysicalResourceId,
            stackId: event.StackId,
            owner: outcome.owner,
          });
        }
      }
      return { physicalId: event.PhysicalResourceId };
    }
    // The owner is the stack CloudFormation names, never a value from the template.
    const registration = {
      ...(await resolveRegistration(event.ResourceProperties, deps)),
      owner: event.StackId,
    };
    await deps.registry.put(registration);
    // An Update that renames the plugin or moves it gets a new id; CloudFormation then deletes the old one.
    return {
      physicalId: physicalId(registration),
      data: {
        PluginName: registration.info.name,
        Activity: registration.activity,
        Stage: registration.stage,
      },
    };
  }

  return async (
    event: CloudFormationCustomResourceEvent,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ) => {
    const fallbackId =
      event.RequestType === 'Create'
        ? `${PHYSICAL_PREFIX}:failed:${event.RequestId}`
        : event.PhysicalResourceId;
    const base = {
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    };
    const budget = Math.max(1000, (context?.getRemainingTimeInMillis() ?? 60_000) - 5000);
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RegistrationError(`The registration did not finish within ${Math.round(budget / 1000)} s.`),
          ),
        budget,
      );
    });
    let response: CloudFormationResponse;
    try {
      const result = await Promise.race([perform(event), outOfTime]);
      response = {
        ...base,
        Status: 'SUCCESS',
        PhysicalResourceId: result.physicalId,
        ...(result.data ? { Data: result.data } : {}),
      };
      logger.info('registration done', { requestType: event.RequestType, physicalId: result.physicalId });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.error('registration failed', { requestType: event.RequestType, reason });
      response = { ...base, Status: 'FAILED', Reason: reason.slice(0, 3000), PhysicalResourceId: fallbackId };
    } finally {
      clearTimeout(timer);
    }
    await respond(event.ResponseURL, response);
    return response;
  };
}

let wired: ReturnType<typeof createRegistrarHandler> | undefined;

/** Lambda entry point (invoked by CloudFormation through the exported service token). */
export async function handler(event: CloudFormationCustomResourceEvent, context: Context) {
  if (!wired) {
    const common = readCommonConfig();
    wired = createRegistrarHandler({
      registry: new DynamoRegistry({ tableName: common.tableName }),
      initializer: new LambdaInitializer(new LambdaClient({})),
      knownActivities: Object.keys(common.engine.activities),
      observability: createObservability('plugboard-registrar', common.deploymentStage),
    });
  }
  return wired(event, context);
}
