/**
 * Resolves CloudFormation intrinsic functions against what the local cloud has created: Ref,
 * Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::ImportValue, Fn::If with Conditions
 * (Fn::Equals/And/Or/Not), Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::ToJsonString, Fn::Length and the
 * pseudo parameters. Anything else fails with the path of the offending value.
 *
 * SQS queue URLs: handlers build queue URLs from `https://sqs.<region>.<suffix>/<account>/<name>`.
 * With `AWS_ENDPOINT_URL` set, SDK v3's SQS client sends a request to the *queue URL's* host when it
 * differs from the endpoint, so such a URL would leave the machine. `sqsEndpoint` makes the resolver
 * rewrite every such URL inside resolved strings to moto's form (`<endpoint>/<account>/<name>`),
 * which moto accepts because it identifies a queue by the last path segment.
 */

import type { CfnTemplate } from './assembly.js';
import { IntrinsicError } from './errors.js';

/** `AWS::NoValue`: removes the property or list element that holds it. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface PseudoParameters {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly urlSuffix: string;
  readonly stackName: string;
  readonly stackId: string;
}

/** Gives the resolver the values of resources that exist already. */
export interface ResourceLookup {
  /** `Ref` of a resource: its physical ID. Throws when the resource is unknown or not created yet. */
  ref(logicalId: string, path: string): unknown;
  /** `Fn::GetAtt`: throws when the resource or the attribute is unknown. */
  getAtt(logicalId: string, attribute: string, path: string): unknown;
}

export interface ResolverOptions {
  readonly template: CfnTemplate;
  readonly pseudo: PseudoParameters;
  readonly resources: ResourceLookup;
  /** Value of an export of an already deployed stack; throws {@link MissingImportError} when absent. */
  readonly importValue: (name: string, path: string) => string;
  /** Parameter values overriding the template defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** The emulator endpoint: when set, AWS-form SQS queue URLs are rewritten to it (see above). */
  readonly sqsEndpoint?: string;
}

const PSEUDO_NAMES = new Set([
  'AWS::Region',
  'AWS::AccountId',
  'AWS::Partition',
  'AWS::URLSuffix',
  'AWS::StackName',
  'AWS::StackId',
  'AWS::NoValue',
  'AWS::NotificationARNs',
]);

const SQS_URL = /https:\/\/(?:sqs\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?|queue\.amazonaws\.com)\/(\d{12})\//g;

/** Rewrites AWS-form SQS queue URLs inside `value` to `<endpoint>/<account>/…`. */
export function rewriteSqsUrls(value: string, endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return value.replace(SQS_URL, (_match, account: string) => `${base}/${account}/`);
}

type Json = unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The single key of an intrinsic-function object (`Ref`, `Fn::…`), or undefined for plain objects. */
function intrinsicKey(value: Record<string, unknown>): string | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [key] = keys;
  if (key === undefined) return undefined;
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

export class TemplateResolver {
  private readonly conditionCache = new Map<string, boolean>();

  constructor(private readonly options: ResolverOptions) {}

  private get stackName(): string {
    return this.options.pseudo.stackName;
  }

  private fail(path: string, detail: string): never {
    throw new IntrinsicError(this.stackName, path, detail);
  }

  /**
   * Resolves every intrinsic function in `value`. `AWS::NoValue` is removed from objects and lists;
   * a value that is `AWS::NoValue` itself resolves to `undefined`.
   */
  resolve(value: Json, path: string): unknown {
    const resolved = this.walk(value, path);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  /** Whether the named condition of the template holds. */
  condition(name: string, path = `Conditions.${name}`): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const definition = this.options.template.Conditions?.[name];
    if (definition === undefined) this.fail(path, `unknown condition "${name}"`);
    const result = this.evaluateCondition(definition, `Conditions.${name}`);
    this.conditionCache.set(name, result);
    return result;
  }

  private evaluateCondition(value: Json, path: string): boolean {
    if (isRecord(value) && Object.keys(value).length === 1 && typeof value.Condition === 'string') {
      return this.condition(value.Condition, path);
    }
    const resolved = this.walk(value, path);
    if (typeof resolved === 'boolean') return resolved;
    if (resolved === 'true' || resolved === 'false') return resolved === 'true';
    return this.fail(path, `a condition must evaluate to a boolean, got ${JSON.stringify(resolved)}`);
  }

  private walk(value: Json, path: string): unknown {
    if (typeof value === 'string') return this.rewrite(value);
    if (Array.isArray(value)) {
      return value
        .map((item, index) => this.walk(item, `${path}[${index}]`))
        .filter((item) => item !== NO_VALUE);
    }
    if (!isRecord(value)) return value;
    const key = intrinsicKey(value);
    if (key === undefined) {
      const out: Record<string, unknown> = {};
      for (const [name, item] of Object.entries(value)) {
        const resolved = this.walk(item, `${path}.${name}`);
        if (resolved !== NO_VALUE) out[name] = resolved;
      }
      return out;
    }
    const result = this.intrinsic(key, value[key], `${path}.${key}`);
    return typeof result === 'string' ? this.rewrite(result) : result;
  }

  private rewrite(text: string): string {
    return this.options.sqsEndpoint ? rewriteSqsUrls(text, this.options.sqsEndpoint) : text;
  }

  private intrinsic(key: string, argument: Json, path: string): unknown {
    switch (key) {
      case 'Ref':
        return this.ref(argument, path);
      case 'Fn::GetAtt':
        return this.getAtt(argument, path);
      case 'Fn::Join':
        return this.join(argument, path);
      case 'Fn::Sub':
        return this.sub(argument, path);
      case 'Fn::Select':
        return this.select(argument, path);
      case 'Fn::Split':
        return this.split(argument, path);
      case 'Fn::ImportValue': {
        const name = this.walk(argument, path);
        if (typeof name !== 'string') this.fail(path, 'Fn::ImportValue needs a string export name');
        return this.options.importValue(name, path);
      }
      case 'Fn::If':
        return this.if(argument, path);
      case 'Fn::Equals': {
        const args = this.args(argument, 2, path);
        return (
          JSON.stringify(this.walk(args[0], `${path}[0]`)) ===
          JSON.stringify(this.walk(args[1], `${path}[1]`))
        );
      }
      case 'Fn::And':
      case 'Fn::Or': {
        if (!Array.isArray(argument) || argument.length < 1)
          this.fail(path, `${key} needs a list of conditions`);
        const values = argument.map((item, index) => this.evaluateCondition(item, `${path}[${index}]`));
        return key === 'Fn::And' ? values.every(Boolean) : values.some(Boolean);
      }
      case 'Fn::Not': {
        const args = this.args(argument, 1, path);
        return !this.evaluateCondition(args[0], `${path}[0]`);
      }
      case 'Fn::FindInMap':
        return this.findInMap(argument, path);
      case 'Fn::Base64': {
        const text = this.walk(argument, path);
        if (typeof text !== 'string') this.fail(path, 'Fn::Base64 needs a string');
        return Buffer.from(text, 'utf8').toString('base64');
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c', 'd', 'e', 'f'].map((zone) => `${this.options.pseudo.region}${zone}`);
      case 'Fn::ToJsonString':
        return JSON.stringify(this.walk(argument, path));
      case 'Fn::Length': {
        const list = this.walk(argument, path);
        if (!Array.isArray(list)) this.fail(path, 'Fn::Length needs a list');
        return list.length;
      }
      default:
        return this.fail(path, `intrinsic function ${key} is not supported by the local cloud`);
    }
  }

  private args(argument: Json, count: number, path: string): unknown[] {
    if (!Array.isArray(argument) || argument.length !== count) {
      this.fail(path, `expected a list of ${count} arguments, got ${JSON.stringify(argument)}`);
    }
    return argument;
  }

  private ref(argument: Json, path: string): unknown {
    if (typeof argument !== 'string') this.fail(path, 'Ref needs a logical ID or parameter name');
    if (PSEUDO_NAMES.has(argument)) return this.pseudo(argument, path);
    const parameter = this.options.template.Parameters?.[argument];
    if (parameter !== undefined) return this.parameter(argument, parameter.Type, parameter.Default, path);
    if (this.options.template.Resources[argument] === undefined) {
      this.fail(
        path,
        `Ref to "${argument}", which is neither a resource, a parameter nor a pseudo parameter`,
      );
    }
    return this.options.resources.ref(argument, path);
  }

  private pseudo(name: string, path: string): unknown {
    const pseudo = this.options.pseudo;
    switch (name) {
      case 'AWS::Region':
        return pseudo.region;
      case 'AWS::AccountId':
        return pseudo.accountId;
      case 'AWS::Partition':
        return pseudo.partition;
      case 'AWS::URLSuffix':
        return pseudo.urlSuffix;
      case 'AWS::StackName':
        return pseudo.stackName;
      case 'AWS::StackId':
        return pseudo.stackId;
      case 'AWS::NoValue':
        return NO_VALUE;
      case 'AWS::NotificationARNs':
        return [];
      default:
        return this.fail(path, `unknown pseudo parameter ${name}`);
    }
  }

  private parameter(name: string, type: string, fallback: unknown, path: string): unknown {
    const given = this.options.parameters?.[name];
    const value = given ?? fallback;
    if (type.startsWith('AWS::SSM::Parameter::')) {
      this.fail(
        path,
        `parameter ${name} has the SSM type ${type}; the local cloud does not read SSM parameters (CDK's BootstrapVersion is only used by template Rules, which the local cloud does not evaluate)`,
      );
    }
    if (value === undefined) this.fail(path, `parameter ${name} has no default; pass a value for it`);
    if (type === 'CommaDelimitedList' || type.startsWith('List<')) {
      return Array.isArray(value) ? value : String(value).split(',');
    }
    return typeof value === 'number' ? String(value) : value;
  }

  private getAtt(argument: Json, path: string): unknown {
    let logicalId: unknown;
    let attribute: unknown;
    if (typeof argument === 'string') {
      const dot = argument.indexOf('.');
      if (dot <= 0) this.fail(path, `Fn::GetAtt "${argument}" must be "LogicalId.Attribute"`);
      logicalId = argument.slice(0, dot);
      attribute = argument.slice(dot + 1);
    } else if (Array.isArray(argument) && argument.length === 2) {
      logicalId = argument[0];
      attribute = this.walk(argument[1], `${path}[1]`);
    }
    if (typeof logicalId !== 'string' || typeof attribute !== 'string') {
      return this.fail(path, `Fn::GetAtt needs [LogicalId, Attribute], got ${JSON.stringify(argument)}`);
    }
    if (this.options.template.Resources[logicalId] === undefined) {
      this.fail(path, `Fn::GetAtt on "${logicalId}", which is not a resource of this template`);
    }
    return this.options.resources.getAtt(logicalId, attribute, path);
  }

  private join(argument: Json, path: string): string {
    const [delimiter, list] = this.args(argument, 2, path);
    if (typeof delimiter !== 'string') this.fail(path, 'Fn::Join needs a string delimiter');
    const items = this.walk(list, `${path}[1]`);
    if (!Array.isArray(items)) this.fail(path, 'Fn::Join needs a list to join');
    return items.map((item, index) => this.scalar(item, `${path}[1][${index}]`)).join(delimiter);
  }

  private scalar(value: unknown, path: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return this.fail(path, `expected a string, got ${JSON.stringify(value)}`);
  }

  private sub(argument: Json, path: string): string {
    let text: unknown;
    let variables: Record<string, unknown> = {};
    if (typeof argument === 'string') {
      text = argument;
    } else if (Array.isArray(argument) && argument.length === 2 && isRecord(argument[1])) {
      text = argument[0];
      const resolved = this.walk(argument[1], `${path}[1]`);
      if (isRecord(resolved)) variables = resolved;
    }
    if (typeof text !== 'string') {
      return this.fail(path, 'Fn::Sub needs a string or [string, {variables}]');
    }
    const out = text.replace(/\$\{([^}]*)\}/g, (_match, expression: string) => {
      if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
      const name = expression.trim();
      if (Object.hasOwn(variables, name)) return this.scalar(variables[name], `${path} \${${name}}`);
      if (PSEUDO_NAMES.has(name)) return this.scalar(this.pseudo(name, path), `${path} \${${name}}`);
      if (this.options.template.Parameters?.[name] !== undefined) {
        return this.scalar(this.ref(name, path), `${path} \${${name}}`);
      }
      const dot = name.indexOf('.');
      if (dot > 0) {
        return this.scalar(
          this.getAtt([name.slice(0, dot), name.slice(dot + 1)], path),
          `${path} \${${name}}`,
        );
      }
      return this.scalar(this.ref(name, path), `${path} \${${name}}`);
    });
    return out;
  }

  private select(argument: Json, path: string): unknown {
    const [indexValue, list] = this.args(argument, 2, path);
    const index = Number(this.walk(indexValue, `${path}[0]`));
    const items = this.walk(list, `${path}[1]`);
    if (!Array.isArray(items)) this.fail(path, 'Fn::Select needs a list');
    if (!Number.isInteger(index) || index < 0 || index >= items.length) {
      this.fail(path, `Fn::Select index ${String(indexValue)} is outside the list of ${items.length}`);
    }
    return items[index];
  }

  private split(argument: Json, path: string): string[] {
    const [delimiter, source] = this.args(argument, 2, path);
    if (typeof delimiter !== 'string') this.fail(path, 'Fn::Split needs a string delimiter');
    const text = this.walk(source, `${path}[1]`);
    if (typeof text !== 'string') this.fail(path, 'Fn::Split needs a string to split');
    return text.split(delimiter);
  }

  private if(argument: Json, path: string): unknown {
    const [name, whenTrue, whenFalse] = this.args(argument, 3, path);
    if (typeof name !== 'string') this.fail(path, 'Fn::If needs a condition name');
    return this.condition(name, path)
      ? this.walk(whenTrue, `${path}[1]`)
      : this.walk(whenFalse, `${path}[2]`);
  }

  private findInMap(argument: Json, path: string): unknown {
    const [map, top, second] = this.args(argument, 3, path).map((item, index) =>
      this.scalar(this.walk(item, `${path}[${index}]`), `${path}[${index}]`),
    );
    const value =
      map === undefined || top === undefined || second === undefined
        ? undefined
        : this.options.template.Mappings?.[map]?.[top]?.[second];
    if (value === undefined) this.fail(path, `Fn::FindInMap ${map}/${top}/${second} is not in Mappings`);
    return this.walk(value, path);
  }
}

/**
 * The logical IDs of the resources `value` refers to (Ref, Fn::GetAtt and `${…}` in Fn::Sub), ignoring
 * parameters and pseudo parameters. Both branches of Fn::If count, which is what CloudFormation does.
 */
export function referencedResources(value: Json, template: CfnTemplate): Set<string> {
  const found = new Set<string>();
  const isResource = (name: string) => template.Resources[name] !== undefined;
  const visit = (item: Json): void => {
    if (Array.isArray(item)) {
      for (const element of item) visit(element);
      return;
    }
    if (!isRecord(item)) return;
    const key = intrinsicKey(item);
    const argument = key === undefined ? undefined : item[key];
    if (key === 'Ref' && typeof argument === 'string' && isResource(argument)) {
      found.add(argument);
      return;
    }
    if (key === 'Fn::GetAtt') {
      const target =
        typeof argument === 'string'
          ? argument.split('.')[0]
          : Array.isArray(argument)
            ? argument[0]
            : undefined;
      if (typeof target === 'string' && isResource(target)) found.add(target);
      if (Array.isArray(argument)) visit(argument[1]);
      return;
    }
    if (key === 'Fn::Sub') {
      const text =
        typeof argument === 'string' ? argument : Array.isArray(argument) ? argument[0] : undefined;
      const variables =
        Array.isArray(argument) && isRecord(argument[1])
          ? new Set(Object.keys(argument[1]))
          : new Set<string>();
      if (Array.isArray(argument)) visit(argument[1]);
      if (typeof text === 'string') {
        for (const match of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = (match[1] ?? '').trim().split('.')[0] ?? '';
          if (!variables.has(name) && isResource(name)) found.add(name);
        }
      }
      return;
    }
    for (const nested of Object.values(item)) visit(nested);
  };
  visit(value);
  return found;
}
