/**
 * IAM enforcement for the local cloud: for every signed request it finds the principal (from the
 * access key of the SigV4 signature), works out the actions, resources and condition keys the
 * request needs (requests.ts), evaluates them with `@cloud-copilot/iam-simulate` against the
 * principal's identity policies and the resource's policy (registry.ts), and, when one is denied,
 * answers with the error AWS returns for that service and protocol, so the SDK throws what it would
 * on AWS. It also remembers who sent each SQS message, so received messages carry the sender's
 * `SenderId` (`AROA…:<session>`) as on AWS.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { getDenialReasons, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { IamRegistry, Principal } from './registry.js';
import { type AccessCheck, accessChecks, type ContextValues, parametersOf } from './requests.js';

/** An answer the proxy sends instead of forwarding the request. */
export interface RefusedRequest {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type Authorization =
  | { readonly allowed: true; readonly principal: Principal | undefined }
  | { readonly allowed: false; readonly response: RefusedRequest; readonly reason: string };

interface Denial {
  readonly check: AccessCheck;
  readonly explicit: boolean;
  readonly policyType: string;
}

/** `Credential=<key>/…` of a SigV4 Authorization header or a presigned URL. */
export function accessKeyOf(headers: IncomingHttpHeaders, url: string | undefined): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') return /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  const query =
    url?.includes('?') === true ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  return query?.get('X-Amz-Credential')?.split('/')[0] ?? undefined;
}

function sessionTokenOf(headers: IncomingHttpHeaders, url: string | undefined): string | undefined {
  const header = headers['x-amz-security-token'];
  if (typeof header === 'string') return header;
  const query =
    url?.includes('?') === true ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  return query?.get('X-Amz-Security-Token') ?? undefined;
}

/** How many decisions are cached before the cache starts over. */
const CACHE_LIMIT = 20_000;
/** How long a receive waits for the answers of sends in flight (to learn their message ids). */
const SEND_WAIT_LIMIT_MS = 2000;
/** How many sent messages keep their sender for `SenderId`. */
const SENDER_LIMIT = 200_000;

export interface IamEnforcerOptions {
  /** Told about every denial (and about policies the evaluator cannot read). */
  readonly onDenied?: (event: { readonly principal: Principal; readonly reason: string }) => void;
  readonly warn?: (message: string) => void;
  /**
   * Told about every request IAM allowed for a function's role, with the checks it passed (what
   * `PLUGBOARD_IAM_RECORD` writes down: the calls the code makes, local/iam/recorder.ts). Only
   * while policies are evaluated.
   */
  readonly onAllowed?: (event: {
    readonly principal: Principal;
    readonly checks: readonly AccessCheck[];
  }) => void;
  /**
   * Evaluate policies (the default). False keeps every identity (per-function credentials, unknown
   * keys refused, `SenderId` of the sender) and allows every call: IAM switched off, as with
   * `npm start -- --no-iam`, while reports still say who sent them.
   */
  readonly enforce?: boolean;
}

export class IamEnforcer {
  private readonly decisions = new Map<string, Promise<Denial | undefined>>();
  private cacheVersion = -1;
  private readonly senders = new Map<string, string>();
  private readonly referenced = new Map<string, ReadonlySet<string>>();
  /** SendMessage(Batch) requests forwarded whose answers (with the message ids) have not been read. */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    readonly registry: IamRegistry,
    private readonly options: IamEnforcerOptions = {},
  ) {}

  /** The principal of a request's credentials, or a refusal like AWS's for unknown credentials. */
  identify(
    service: string,
    headers: IncomingHttpHeaders,
    url: string | undefined,
  ): { principal: Principal } | { response: RefusedRequest; reason: string } {
    const accessKey = accessKeyOf(headers, url);
    if (accessKey === undefined) {
      return {
        response: missingAuthentication(service),
        reason: 'the request is not signed (no SigV4 Authorization header)',
      };
    }
    const principal = this.registry.principalFor(accessKey, sessionTokenOf(headers, url));
    if (principal === undefined) {
      return {
        response: invalidToken(service),
        reason: `the access key ${accessKey} is not one the local cloud issued (or its session token does not match)`,
      };
    }
    return { principal };
  }

  /** Decides one request of `service` (its SigV4 signing name). */
  async authorize(
    service: string,
    operation: string,
    headers: IncomingHttpHeaders,
    url: string | undefined,
    body: string,
  ): Promise<Authorization> {
    const identified = this.identify(service, headers, url);
    if ('response' in identified)
      return { allowed: false, response: identified.response, reason: identified.reason };
    const { principal } = identified;
    if (this.options.enforce === false) return { allowed: true, principal };
    const contentType = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined;
    const checks = accessChecks(service, operation, parametersOf(body, contentType), {
      region: this.registry.region,
      accountId: this.registry.accountId,
      registry: this.registry,
    });
    const denial = await this.firstDenial(principal, checks);
    if (denial === undefined) {
      if (principal.kind === 'role') this.options.onAllowed?.({ principal, checks });
      return { allowed: true, principal };
    }
    const message = denialMessage(service, principal, denial);
    this.options.onDenied?.({ principal, reason: message });
    return { allowed: false, response: accessDenied(service, message, denial), reason: message };
  }

  /** Decides a Lambda Invoke of a hosted function (the local Invoke endpoint asks). */
  async authorizeInvoke(
    headers: IncomingHttpHeaders,
    functionArn: string,
  ): Promise<RefusedRequest | undefined> {
    const identified = this.identify('lambda', headers, undefined);
    if ('response' in identified) return identified.response;
    const { principal } = identified;
    if (this.options.enforce === false) return undefined;
    const checks: AccessCheck[] = [{ action: 'lambda:InvokeFunction', resource: functionArn, context: {} }];
    const denial = await this.firstDenial(principal, checks);
    if (denial === undefined) {
      if (principal.kind === 'role') this.options.onAllowed?.({ principal, checks });
      return undefined;
    }
    const message = denialMessage('lambda', principal, denial);
    this.options.onDenied?.({ principal, reason: message });
    return accessDenied('lambda', message, denial);
  }

  /** The first check that is denied (checks run together; the first in order is reported). */
  async firstDenial(principal: Principal, checks: readonly AccessCheck[]): Promise<Denial | undefined> {
    const results = await Promise.all(checks.map((check) => this.decide(principal, check)));
    return results.find((result) => result !== undefined);
  }

  private decide(principal: Principal, check: AccessCheck): Promise<Denial | undefined> {
    if (this.cacheVersion !== this.registry.version || this.decisions.size > CACHE_LIMIT) {
      this.decisions.clear();
      this.referenced.clear();
      this.cacheVersion = this.registry.version;
    }
    // Only the keys a policy of this request reads can change its decision: the others are left out,
    // so requests that differ only in them (another run's partition key) share one decision.
    const keys = this.referencedKeys(principal, check.resource);
    const context = Object.fromEntries(
      Object.entries(this.contextOf(principal, check)).filter(([key]) => keys.has(key.toLowerCase())),
    );
    const key = JSON.stringify([principal.arn, check.action, check.resource, context]);
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      decision = this.simulate(principal, check, context);
      this.decisions.set(key, decision);
    }
    return decision;
  }

  /** Condition keys and policy variables (lower case) that the policies of a request refer to. */
  private referencedKeys(principal: Principal, resource: string): ReadonlySet<string> {
    const cacheKey = `${principal.arn} ${resource}`;
    let keys = this.referenced.get(cacheKey);
    if (keys === undefined) {
      const found = new Set<string>();
      const policies = [
        ...this.registry.identityPolicies(principal).map((entry) => entry.policy),
        this.registry.permissionsBoundary(principal),
        resource === '*' ? undefined : this.registry.resourcePolicy(resource),
      ];
      for (const policy of policies) {
        if (policy === undefined) continue;
        const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
        for (const statement of statements as unknown[]) {
          const condition =
            typeof statement === 'object' && statement !== null
              ? (statement as Record<string, unknown>).Condition
              : undefined;
          if (typeof condition !== 'object' || condition === null) continue;
          for (const operands of Object.values(condition)) {
            if (typeof operands === 'object' && operands !== null)
              for (const key of Object.keys(operands)) found.add(key.toLowerCase());
          }
        }
        for (const match of JSON.stringify(policy).matchAll(/\$\{([^}]+)\}/g)) {
          if (match[1] !== undefined) found.add(match[1].toLowerCase());
        }
      }
      keys = found;
      this.referenced.set(cacheKey, keys);
    }
    return keys;
  }

  /** The global condition keys AWS supplies for a role session's request, plus the request's own. */
  private contextOf(principal: Principal, check: AccessCheck): ContextValues {
    const context: ContextValues = {
      'aws:SecureTransport': 'true',
      'aws:PrincipalArn': principal.roleArn,
      'aws:PrincipalAccount': this.registry.accountId,
      'aws:PrincipalType': 'AssumedRole',
      'aws:userid': principal.userId,
      'aws:RequestedRegion': this.registry.region,
      'aws:ViaAWSService': check.viaService === undefined ? 'false' : 'true',
    };
    if (check.resource !== '*') {
      const account = check.resource.split(':')[4];
      if (account !== undefined && /^\d{12}$/.test(account)) context['aws:ResourceAccount'] = account;
      for (const [tag, value] of Object.entries(this.registry.tagsOf(check.resource)))
        context[`aws:ResourceTag/${tag}`] = value;
    }
    for (const [tag, value] of Object.entries(this.registry.principalTags(principal)))
      context[`aws:PrincipalTag/${tag}`] = value;
    if (check.action.startsWith('kms:')) context['kms:CallerAccount'] = this.registry.accountId;
    return { ...context, ...check.context };
  }

  private async simulate(
    principal: Principal,
    check: AccessCheck,
    context: ContextValues,
  ): Promise<Denial | undefined> {
    const resourcePolicy = check.resource === '*' ? undefined : this.registry.resourcePolicy(check.resource);
    const boundary = this.registry.permissionsBoundary(principal);
    const simulation: Simulation = {
      request: {
        principal: principal.arn,
        action: check.action,
        resource: { resource: check.resource, accountId: this.registry.accountId },
        contextVariables: context,
      },
      identityPolicies: this.registry.identityPolicies(principal),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy !== undefined ? { resourcePolicy } : {}),
      ...(boundary !== undefined
        ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: boundary }] }
        : {}),
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      // An action the evaluator does not know, or a policy it cannot read: the administrator may go
      // on (as moto would), a role may not (AWS would not grant what no policy grants).
      const detail = `${check.action} on ${check.resource}: ${result.errors.message}`;
      this.options.warn?.(`IAM: the evaluator could not decide ${detail}`);
      return principal.kind === 'admin' ? undefined : { check, explicit: false, policyType: 'identity' };
    }
    if (result.overallResult === 'Allowed') return undefined;
    const explicit = result.overallResult === 'ExplicitlyDenied';
    let policyType = 'identity';
    if (result.resultType === 'single') {
      const reasons = getDenialReasons(result.result.analysis);
      const reason = reasons.find((r) => r.denialType === (explicit ? 'Explicit' : 'Implicit')) ?? reasons[0];
      if (reason !== undefined) policyType = reason.policyType;
    }
    return { check, explicit, policyType };
  }

  /**
   * Marks a send in flight: a receive that returns one of its messages before the send's answer was
   * read waits for it (see withSenderIds). Call the returned function once the answer was remembered.
   */
  sendStarted(): () => void {
    let finish = () => {};
    const pending = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.sending.add(pending);
    return () => {
      this.sending.delete(pending);
      finish();
    };
  }

  /** Remembers the sender of messages SQS accepted (from a SendMessage or SendMessageBatch answer). */
  rememberSent(operation: string, principal: Principal, responseBody: string): void {
    if (operation !== 'SendMessage' && operation !== 'SendMessageBatch') return;
    const parsed = parametersOf(responseBody, undefined);
    const ids: unknown[] =
      operation === 'SendMessage'
        ? [parsed.MessageId]
        : (Array.isArray(parsed.Successful) ? parsed.Successful : []).map((entry: unknown) =>
            typeof entry === 'object' && entry !== null
              ? (entry as Record<string, unknown>).MessageId
              : undefined,
          );
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      if (this.senders.size >= SENDER_LIMIT) {
        const oldest = this.senders.keys().next().value;
        if (oldest !== undefined) this.senders.delete(oldest);
      }
      this.senders.set(id, principal.userId);
    }
  }

  /**
   * A ReceiveMessage answer with each message's `SenderId` set to its sender's id, for messages
   * sent through the proxy; others (delivered by SNS inside moto) keep moto's value. `undefined`
   * when nothing changed.
   */
  async withSenderIds(responseBody: string): Promise<string | undefined> {
    const parsed = parametersOf(responseBody, undefined);
    if (!Array.isArray(parsed.Messages)) return undefined;
    const unknown = (parsed.Messages as unknown[]).some((message) => {
      const id =
        typeof message === 'object' && message !== null
          ? (message as Record<string, unknown>).MessageId
          : undefined;
      return typeof id === 'string' && !this.senders.has(id);
    });
    // moto may answer a waiting receive with a message before the proxy has read the send's answer.
    // The wait is bounded: a send moto never answers must not hold every receive.
    if (unknown && this.sending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.sending]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, SEND_WAIT_LIMIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    let changed = false;
    for (const message of parsed.Messages as unknown[]) {
      if (typeof message !== 'object' || message === null) continue;
      const record = message as Record<string, unknown>;
      const sender = typeof record.MessageId === 'string' ? this.senders.get(record.MessageId) : undefined;
      const attributes = record.Attributes;
      if (sender === undefined || typeof attributes !== 'object' || attributes === null) continue;
      const values = attributes as Record<string, unknown>;
      if ('SenderId' in values && values.SenderId !== sender) {
        values.SenderId = sender;
        changed = true;
      }
    }
    return changed ? JSON.stringify(parsed) : undefined;
  }
}

/** How each service writes an action in its denial message. */
function actionAsWritten(service: string, action: string): string {
  if (service === 'sqs' && !action.startsWith('kms:')) return action.toLowerCase();
  if (service === 'sns' && action.startsWith('sns:')) return `SNS:${action.slice(4)}`;
  return action;
}

const POLICY_WORDS: Readonly<Record<string, string>> = {
  identity: 'identity-based policy',
  resource: 'resource-based policy',
  pb: 'permissions boundary',
  scp: 'service control policy',
  rcp: 'resource control policy',
  vpce: 'VPC endpoint policy',
};

/** AWS's wording: `User: <arn> is not authorized to perform: <action> on resource: <arn> because …`. */
export function denialMessage(service: string, principal: Principal, denial: Denial): string {
  const action = actionAsWritten(service, denial.check.action);
  const on = denial.check.resource === '*' ? '' : ` on resource: ${denial.check.resource}`;
  const words = POLICY_WORDS[denial.policyType] ?? 'policy';
  const why = denial.explicit
    ? `with an explicit deny in ${words === 'identity-based policy' ? 'an' : 'a'} ${words}`
    : `because no ${words} allows the ${action} action`;
  return `User: ${principal.arn} is not authorized to perform: ${action}${on} ${why}`;
}

const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function queryError(status: number, code: string, message: string, xmlns?: string): RefusedRequest {
  const requestId = randomUUID();
  const body = `<?xml version="1.0"?><ErrorResponse${xmlns !== undefined ? ` xmlns="${xmlns}"` : ''}><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: Buffer.from(body),
  };
}

function jsonError(
  status: number,
  type: string,
  message: string,
  queryCode?: string,
  contentType = 'application/x-amz-json-1.0',
): RefusedRequest {
  const requestId = randomUUID();
  const headers: Record<string, string> = { 'content-type': contentType, 'x-amzn-requestid': requestId };
  if (queryCode !== undefined) headers['x-amzn-query-error'] = `${queryCode};Sender`;
  return {
    status,
    headers,
    body: Buffer.from(JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message })),
  };
}

const INVALID_TOKEN = 'The security token included in the request is invalid.';

/** AWS's answer to credentials it does not know, per service and protocol. */
export function invalidToken(service: string): RefusedRequest {
  switch (service) {
    case 'dynamodb':
      return jsonError(400, 'UnrecognizedClientException', INVALID_TOKEN);
    case 'sqs':
    case 'monitoring':
      return jsonError(403, 'UnrecognizedClientException', INVALID_TOKEN, 'InvalidClientTokenId');
    case 'sns':
      return queryError(403, 'InvalidClientTokenId', INVALID_TOKEN, SNS_XMLNS);
    case 'lambda':
      return lambdaError(403, 'UnrecognizedClientException', INVALID_TOKEN);
    default:
      return jsonError(403, 'UnrecognizedClientException', INVALID_TOKEN);
  }
}

function missingAuthentication(service: string): RefusedRequest {
  const message = 'Request is missing Authentication Token';
  if (service === 'sns') return queryError(403, 'MissingAuthenticationToken', message, SNS_XMLNS);
  return jsonError(403, 'MissingAuthenticationTokenException', message, 'MissingAuthenticationToken');
}

export function lambdaError(status: number, type: string, message: string): RefusedRequest {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': type,
      'x-amzn-requestid': randomUUID(),
    },
    body: Buffer.from(JSON.stringify({ Type: 'User', Message: message })),
  };
}

/** AWS's access-denied answer, per service and protocol (KMS denials as the calling service reports them). */
function accessDenied(service: string, message: string, denial: Denial): RefusedRequest {
  if (denial.check.viaService === 'sns') return queryError(400, 'KMSAccessDenied', message, SNS_XMLNS);
  if (denial.check.viaService === 'sqs')
    return jsonError(400, 'KMS.AccessDeniedException', message, 'KMS.AccessDeniedException');
  switch (service) {
    case 'dynamodb':
      return jsonError(400, 'AccessDeniedException', message);
    case 'sqs':
    case 'monitoring':
      return jsonError(403, 'AccessDeniedException', message, 'AccessDenied');
    case 'sns':
      return queryError(403, 'AuthorizationError', message, SNS_XMLNS);
    case 'lambda':
      return lambdaError(403, 'AccessDeniedException', message);
    default:
      return jsonError(400, 'AccessDeniedException', message);
  }
}
