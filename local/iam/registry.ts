/**
 * What the local cloud knows about identity and access, gathered from the deployed templates: roles
 * and the identity policies attached to them, resource policies (queue, topic and KMS key policies),
 * resource tags, the KMS key of each encrypted topic or queue, the partition key of each table, and
 * the credentials handed to each hosted function. The proxy (local/aws-proxy.ts) and the Lambda
 * Invoke endpoint ask it who signed a request; the evaluator (evaluator.ts) asks it which policies apply.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Who made a request: the account's administrator (the documented dummy keys) or a function's role. */
export interface Principal {
  readonly kind: 'admin' | 'role';
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as AWS names a role session. */
  readonly arn: string;
  readonly roleArn: string;
  readonly roleName: string;
  /** `AROA…`: the role's unique id. */
  readonly roleId: string;
  readonly sessionName: string;
  /** `AROA…:<session>`: `aws:userid`, and the `SenderId` AWS puts on messages this principal sends. */
  readonly userId: string;
}

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** A policy document as written in a template (validated by the evaluator). */
export type PolicyDocument = Readonly<Record<string, unknown>>;

/** The role the documented dummy credentials act as: the account's administrator. */
export const ADMIN_ROLE_NAME = 'plugboard-local-admin';
export const ADMIN_SESSION_NAME = 'developer';
/**
 * The dummy access keys the local cloud documents (the CLI's `local`, the SDK config's `testing`):
 * they act as the account's administrator, as a developer's own admin role would on AWS.
 */
export const ADMIN_ACCESS_KEY_IDS: readonly string[] = ['testing', 'local'];

const ADMINISTRATOR_ACCESS: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

/**
 * AWS managed policies the templates attach, with their documents (as AWS publishes them). A managed
 * policy not listed here grants nothing locally, and the registry says so once.
 */
const AWS_MANAGED_POLICIES: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
};

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `length` characters of [A-Z2-7] from bytes. */
function base32(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i += 1) out += BASE32[(bytes[i % bytes.length] ?? 0) % 32];
  return out;
}

/** A role's unique id, `AROA` and 17 characters, derived from its ARN (stable across local clouds). */
export function roleIdOf(roleArn: string): string {
  return `AROA${base32(createHash('sha256').update(roleArn).digest(), 17)}`;
}

/** The role name of a role ARN (`arn:aws:iam::1:role/path/name` → `name`). */
export function roleNameOf(roleArn: string): string {
  const resource = roleArn.split(':').slice(5).join(':');
  if (!resource.startsWith('role/')) throw new RangeError(`"${roleArn}" is not an IAM role ARN`);
  return resource.slice(resource.lastIndexOf('/') + 1);
}

interface RoleEntry {
  readonly arn: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly managedPolicyArns: readonly string[];
  readonly permissionsBoundary: string | undefined;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

function tagsOf(value: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const tag of value) {
      if (isRecord(tag) && typeof tag.Key === 'string') tags[tag.Key] = String(tag.Value ?? '');
    }
  } else if (isRecord(value)) {
    for (const [key, tagValue] of Object.entries(value)) tags[key] = String(tagValue);
  }
  return tags;
}

export interface IamRegistryOptions {
  readonly accountId: string;
  readonly region: string;
  /** Told once about anything the registry cannot apply (e.g. an unknown AWS managed policy). */
  readonly warn?: (message: string) => void;
}

export class IamRegistry {
  private readonly roles = new Map<string, RoleEntry>();
  /** Identity policies by role name, each by a key naming where it came from. */
  private readonly inline = new Map<string, Map<string, PolicyDocument>>();
  private readonly managed = new Map<string, PolicyDocument>();
  /** Customer managed policies attached through their own `Roles` property, by role name. */
  private readonly managedAttachments = new Map<string, Set<string>>();
  private readonly resourcePolicies = new Map<string, PolicyDocument>();
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  private readonly encryptionKeys = new Map<string, string>();
  private readonly aliases = new Map<string, string>();
  private readonly partitionKeys = new Map<string, string>();
  private readonly credentials = new Map<
    string,
    { readonly secret: string; readonly token?: string; readonly principal: Principal }
  >();
  private readonly warned = new Set<string>();
  /** Grows on every change: cached decisions of an older version are stale. */
  version = 0;
  readonly admin: Principal;

  constructor(private readonly options: IamRegistryOptions) {
    const roleArn = `arn:aws:iam::${options.accountId}:role/${ADMIN_ROLE_NAME}`;
    this.admin = this.principalOf('admin', roleArn, ADMIN_SESSION_NAME);
    for (const key of ADMIN_ACCESS_KEY_IDS) this.credentials.set(key, { secret: key, principal: this.admin });
  }

  get accountId(): string {
    return this.options.accountId;
  }

  get region(): string {
    return this.options.region;
  }

  private principalOf(kind: Principal['kind'], roleArn: string, sessionName: string): Principal {
    const roleName = roleNameOf(roleArn);
    const roleId = roleIdOf(roleArn);
    return {
      kind,
      arn: `arn:aws:sts::${this.options.accountId}:assumed-role/${roleName}/${sessionName}`,
      roleArn,
      roleName,
      roleId,
      sessionName,
      userId: `${roleId}:${sessionName}`,
    };
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.options.warn?.(message);
  }

  /**
   * New temporary credentials for a function acting as its role (as Lambda hands them to an execution
   * environment: `ASIA…` key, secret and session token). Without a role the function gets the
   * administrator's keys (only functions registered by hand, never from a template, lack one).
   */
  issueCredentials(functionName: string, roleArn: string | undefined): LocalCredentials {
    if (roleArn === undefined) return { accessKeyId: 'testing', secretAccessKey: 'testing' };
    const principal = this.principalOf('role', roleArn, functionName);
    const accessKeyId = `ASIA${base32(randomBytes(16), 16)}`;
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(96).toString('base64');
    this.credentials.set(accessKeyId, { secret: secretAccessKey, token: sessionToken, principal });
    return { accessKeyId, secretAccessKey, sessionToken };
  }

  /**
   * The principal an access key belongs to; `undefined` for a key the local cloud never issued, or
   * for an issued key presented without its session token (AWS refuses both).
   */
  principalFor(accessKeyId: string, sessionToken: string | undefined): Principal | undefined {
    const entry = this.credentials.get(accessKeyId);
    if (entry === undefined) return undefined;
    if (entry.token !== undefined && entry.token !== sessionToken) return undefined;
    return entry.principal;
  }

  /**
   * The secret key of an access key the local cloud knows, with its principal, for verifying a
   * SigV4 signature (local/sigv4.ts); `undefined` as for {@link principalFor}.
   */
  signingSecretFor(
    accessKeyId: string,
    sessionToken: string | undefined,
  ): { readonly secret: string; readonly principal: Principal } | undefined {
    const entry = this.credentials.get(accessKeyId);
    if (entry === undefined) return undefined;
    if (entry.token !== undefined && entry.token !== sessionToken) return undefined;
    return { secret: entry.secret, principal: entry.principal };
  }

  /** The identity policies of a principal's role (AdministratorAccess for the administrator). */
  identityPolicies(principal: Principal): { name: string; policy: PolicyDocument }[] {
    if (principal.kind === 'admin') return [{ name: 'AdministratorAccess', policy: ADMINISTRATOR_ACCESS }];
    const policies: { name: string; policy: PolicyDocument }[] = [];
    for (const [name, policy] of this.inline.get(principal.roleName) ?? []) policies.push({ name, policy });
    const role = this.roles.get(principal.roleName);
    const attached = new Set([
      ...(role?.managedPolicyArns ?? []),
      ...(this.managedAttachments.get(principal.roleName) ?? []),
    ]);
    for (const policyArn of attached) {
      const policy = this.managedPolicy(policyArn);
      if (policy !== undefined) policies.push({ name: policyArn, policy });
    }
    return policies;
  }

  /** The permissions boundary of a principal's role, if it has one the registry knows. */
  permissionsBoundary(principal: Principal): PolicyDocument | undefined {
    const boundary = this.roles.get(principal.roleName)?.permissionsBoundary;
    return boundary === undefined ? undefined : this.managedPolicy(boundary);
  }

  private managedPolicy(policyArn: string): PolicyDocument | undefined {
    const awsManaged = /^arn:aws[a-z-]*:iam::aws:policy\/(.+)$/.exec(policyArn)?.[1];
    if (awsManaged !== undefined) {
      const document = AWS_MANAGED_POLICIES[awsManaged];
      if (document === undefined) {
        this.warnOnce(
          `IAM: the AWS managed policy ${policyArn} is not known to the local cloud; it grants nothing locally`,
        );
      }
      return document;
    }
    return this.managed.get(policyArn);
  }

  /**
   * The resource policy of a queue, topic, KMS key, function (its Lambda permissions) or table (by
   * ARN); an index of a table has its table's policy, as in DynamoDB.
   */
  resourcePolicy(resourceArn: string): PolicyDocument | undefined {
    const own = this.resourcePolicies.get(resourceArn);
    if (own !== undefined) return own;
    const index = /^(arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+)\/index\/[^/]+$/.exec(resourceArn)?.[1];
    return index === undefined ? undefined : this.resourcePolicies.get(index);
  }

  /** Tags of a resource (by ARN), from its template. */
  tagsOf(resourceArn: string): Readonly<Record<string, string>> {
    return this.tags.get(resourceArn) ?? {};
  }

  /** The role tags of a principal (`aws:PrincipalTag/...`). */
  principalTags(principal: Principal): Readonly<Record<string, string>> {
    return this.roles.get(principal.roleName)?.tags ?? {};
  }

  /** The KMS key ARN that encrypts a topic or queue (by ARN), when it is a customer managed key. */
  encryptionKeyOf(resourceArn: string): string | undefined {
    const key = this.encryptionKeys.get(resourceArn);
    if (key === undefined) return undefined;
    if (key.startsWith('arn:') && !key.includes(':alias/')) return key;
    const alias = key.startsWith('arn:') ? key.slice(key.indexOf(':alias/') + 1) : key;
    if (alias.startsWith('alias/')) {
      if (alias.startsWith('alias/aws/')) return undefined; // AWS managed keys allow their service's callers
      return this.aliases.get(alias);
    }
    return `arn:aws:kms:${this.options.region}:${this.options.accountId}:key/${key}`;
  }

  /** The partition key attribute of a table. */
  partitionKeyOf(tableName: string): string | undefined {
    return this.partitionKeys.get(tableName);
  }

  /** Functions' roles by ARN, for listing. */
  principalOfRole(roleArn: string, sessionName: string): Principal {
    return this.principalOf('role', roleArn, sessionName);
  }

  /**
   * Learns what a deployed resource means for access: called by the deployer for every resource it
   * created, with its properties resolved.
   */
  record(resource: {
    readonly type: string;
    readonly physicalId: string;
    readonly attributes: Readonly<Record<string, unknown>>;
    readonly properties: Readonly<Record<string, unknown>>;
  }): void {
    const { type, physicalId, attributes, properties: p } = resource;
    const { accountId, region } = this.options;
    switch (type) {
      case 'AWS::IAM::Role': {
        const roleArn = text(attributes.Arn) ?? `arn:aws:iam::${accountId}:role/${physicalId}`;
        this.roles.set(physicalId, {
          arn: roleArn,
          tags: tagsOf(p.Tags),
          managedPolicyArns: strings(p.ManagedPolicyArns),
          permissionsBoundary: text(p.PermissionsBoundary),
        });
        const inline = this.policiesOf(physicalId);
        for (const entry of Array.isArray(p.Policies) ? p.Policies : []) {
          if (isRecord(entry) && isRecord(entry.PolicyDocument)) {
            inline.set(`${physicalId}/${String(entry.PolicyName)}`, entry.PolicyDocument);
          }
        }
        break;
      }
      case 'AWS::IAM::Policy':
        if (isRecord(p.PolicyDocument)) {
          for (const role of strings(p.Roles)) {
            this.policiesOf(role).set(`${physicalId}`, p.PolicyDocument);
          }
        }
        if (strings(p.Users).length > 0 || strings(p.Groups).length > 0) {
          this.warnOnce(
            `IAM: policy ${physicalId} is attached to users or groups, which the local cloud does not host`,
          );
        }
        break;
      case 'AWS::IAM::ManagedPolicy':
        if (isRecord(p.PolicyDocument)) this.managed.set(physicalId, p.PolicyDocument);
        for (const role of strings(p.Roles)) {
          const set = this.managedAttachments.get(role) ?? new Set<string>();
          set.add(physicalId);
          this.managedAttachments.set(role, set);
        }
        break;
      case 'AWS::SQS::QueuePolicy':
        if (isRecord(p.PolicyDocument)) {
          for (const url of strings(p.Queues))
            this.resourcePolicies.set(queueArnOfUrl(url, region), p.PolicyDocument);
        }
        break;
      case 'AWS::SNS::TopicPolicy':
        if (isRecord(p.PolicyDocument)) {
          for (const topic of strings(p.Topics)) this.resourcePolicies.set(topic, p.PolicyDocument);
        }
        break;
      case 'AWS::KMS::Key': {
        const keyArn = text(attributes.Arn) ?? `arn:aws:kms:${region}:${accountId}:key/${physicalId}`;
        if (isRecord(p.KeyPolicy)) this.resourcePolicies.set(keyArn, p.KeyPolicy);
        this.tags.set(keyArn, tagsOf(p.Tags));
        break;
      }
      case 'AWS::KMS::Alias': {
        const target = text(p.TargetKeyId);
        if (target !== undefined) {
          this.aliases.set(
            physicalId,
            target.startsWith('arn:') ? target : `arn:aws:kms:${region}:${accountId}:key/${target}`,
          );
        }
        break;
      }
      case 'AWS::SNS::Topic':
        this.tags.set(physicalId, tagsOf(p.Tags));
        if (typeof p.KmsMasterKeyId === 'string') this.encryptionKeys.set(physicalId, p.KmsMasterKeyId);
        break;
      case 'AWS::SQS::Queue': {
        const queueArn = text(attributes.Arn) ?? queueArnOfUrl(physicalId, region);
        this.tags.set(queueArn, tagsOf(p.Tags));
        if (typeof p.KmsMasterKeyId === 'string') this.encryptionKeys.set(queueArn, p.KmsMasterKeyId);
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const tableArn =
          text(attributes.Arn) ?? `arn:aws:dynamodb:${region}:${accountId}:table/${physicalId}`;
        this.tags.set(tableArn, tagsOf(p.Tags));
        const hash = (Array.isArray(p.KeySchema) ? p.KeySchema : []).find(
          (key) => isRecord(key) && key.KeyType === 'HASH',
        );
        if (isRecord(hash) && typeof hash.AttributeName === 'string')
          this.partitionKeys.set(physicalId, hash.AttributeName);
        // The table's resource policy (it applies to its indexes too: resourcePolicy()).
        if (isRecord(p.ResourcePolicy) && isRecord(p.ResourcePolicy.PolicyDocument))
          this.resourcePolicies.set(tableArn, p.ResourcePolicy.PolicyDocument);
        break;
      }
      case 'AWS::Lambda::Permission': {
        // A function's resource policy, one statement per permission (as Lambda's AddPermission).
        const target = text(p.FunctionName);
        const action = text(p.Action);
        const principal = text(p.Principal);
        if (target === undefined || action === undefined || principal === undefined) break;
        const functionArn = target.startsWith('arn:')
          ? target
          : `arn:aws:lambda:${region}:${accountId}:function:${target}`;
        const condition: Record<string, Record<string, string>> = {};
        const sourceArn = text(p.SourceArn);
        const sourceAccount = text(p.SourceAccount);
        if (sourceArn !== undefined) condition.ArnLike = { 'aws:SourceArn': sourceArn };
        if (sourceAccount !== undefined) condition.StringEquals = { 'aws:SourceAccount': sourceAccount };
        const statement = {
          Sid: physicalId,
          Effect: 'Allow',
          Principal: principal.endsWith('.amazonaws.com')
            ? { Service: principal }
            : { AWS: /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal },
          Action: action,
          Resource: functionArn,
          ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
        };
        const existing = this.resourcePolicies.get(functionArn);
        const statements = Array.isArray(existing?.Statement) ? (existing.Statement as unknown[]) : [];
        this.resourcePolicies.set(functionArn, {
          Version: '2012-10-17',
          Statement: [...statements, statement],
        });
        break;
      }
      case 'AWS::Lambda::Function': {
        const functionArn =
          text(attributes.Arn) ?? `arn:aws:lambda:${region}:${accountId}:function:${physicalId}`;
        this.tags.set(functionArn, tagsOf(p.Tags));
        break;
      }
      default:
        return;
    }
    this.version += 1;
  }

  private policiesOf(roleName: string): Map<string, PolicyDocument> {
    let policies = this.inline.get(roleName);
    if (policies === undefined) {
      policies = new Map();
      this.inline.set(roleName, policies);
    }
    return policies;
  }
}

/** The ARN of a queue from its URL (`http://host/<account>/<name>`). */
export function queueArnOfUrl(url: string, region: string): string {
  const match = /\/(\d{12})\/([^/?#]+)\/?(?:[?#].*)?$/.exec(url);
  if (match === null) throw new RangeError(`"${url}" is not an SQS queue URL`);
  return `arn:aws:sqs:${region}:${match[1]}:${match[2]}`;
}
