/**
 * IAM over synthesized templates, without deploying: every resource of the cloud assemblies gets the
 * physical name the local cloud would give it (explicit names, else `generatedName`), intrinsics are
 * resolved with the local cloud's resolver, and the result feeds the local cloud's IAM registry, so
 * the same evaluator (`@cloud-copilot/iam-simulate` via local/iam/enforcer.ts) decides each call.
 * Recorded calls (local/iam/recorder.ts) name resources by `{{stack|logicalId[|attribute]}}`; this
 * module resolves those tokens against the same names.
 */
import { readFileSync } from 'node:fs';
import type { CfnTemplate, StackArtifact } from '../../local/assembly.js';
import { IamEnforcer } from '../../local/iam/enforcer.js';
import type { RecordedCall } from '../../local/iam/recorder.js';
import { IamRegistry, type PolicyDocument, type Principal, roleIdOf } from '../../local/iam/registry.js';
import type { AccessCheck } from '../../local/iam/requests.js';
import { TemplateResolver } from '../../local/intrinsics.js';

type Json = unknown;

import { generatedName } from '../../local/resources/provider.js';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

interface SimResource {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
  readonly attributes: Record<string, string>;
  properties: Record<string, unknown>;
}

const arnOf = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;

function explicitName(properties: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = properties?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Ref and the attributes of one resource, as the local cloud's providers give them. */
function describe(stack: string, logicalId: string, type: string, named: (p: string) => string | undefined) {
  const gen = (max: number) => generatedName(stack, logicalId, max);
  switch (type) {
    case 'AWS::IAM::Role': {
      const name = named('RoleName') ?? gen(64);
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/${name}`;
      return { physicalId: name, attributes: { Arn: roleArn, RoleId: roleIdOf(roleArn) } };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const policyArn = `arn:aws:iam::${ACCOUNT}:policy/${named('ManagedPolicyName') ?? gen(128)}`;
      return { physicalId: policyArn, attributes: { PolicyArn: policyArn } };
    }
    case 'AWS::SQS::Queue': {
      const name = named('QueueName') ?? gen(80);
      const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      return { physicalId: url, attributes: { Arn: arnOf('sqs', name), QueueName: name, QueueUrl: url } };
    }
    case 'AWS::SNS::Topic': {
      const name = named('TopicName') ?? gen(256);
      const topicArn = arnOf('sns', name);
      return { physicalId: topicArn, attributes: { TopicArn: topicArn, TopicName: name } };
    }
    case 'AWS::DynamoDB::Table': {
      const name = named('TableName') ?? gen(255);
      return {
        physicalId: name,
        attributes: {
          Arn: arnOf('dynamodb', `table/${name}`),
          StreamArn: arnOf('dynamodb', `table/${name}/stream/x`),
        },
      };
    }
    case 'AWS::Lambda::Function': {
      const name = named('FunctionName') ?? gen(64);
      return { physicalId: name, attributes: { Arn: arnOf('lambda', `function:${name}`) } };
    }
    case 'AWS::KMS::Key': {
      const id = `key-${gen(40)}`;
      return { physicalId: id, attributes: { KeyId: id, Arn: arnOf('kms', `key/${id}`) } };
    }
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName') ?? gen(512);
      return { physicalId: name, attributes: { Arn: arnOf('logs', `log-group:${name}:*`) } };
    }
    case 'AWS::Events::EventBus': {
      const name = named('Name') ?? gen(256);
      return { physicalId: name, attributes: { Arn: arnOf('events', `event-bus/${name}`), Name: name } };
    }
    case 'AWS::Events::Rule': {
      const name = named('Name') ?? gen(64);
      return { physicalId: name, attributes: { Arn: arnOf('events', `rule/${name}`) } };
    }
    default:
      return { physicalId: gen(128), attributes: {} as Record<string, string> };
  }
}

export class TemplateIam {
  readonly registry = new IamRegistry({ accountId: ACCOUNT, region: REGION });
  readonly enforcer = new IamEnforcer(this.registry);
  private readonly resources = new Map<string, SimResource>();
  private readonly exports = new Map<string, string>();

  /** Stacks in deployment order (dependencies first), as `readAssembly` gives them. */
  constructor(stacks: readonly StackArtifact[]) {
    for (const stack of stacks) this.add(stack.stackName, stack.template);
  }

  static fromTemplateFiles(stacks: readonly { stackName: string; templateFile: string }[]): TemplateIam {
    return new TemplateIam(
      stacks.map(
        (s) =>
          ({
            stackName: s.stackName,
            template: JSON.parse(readFileSync(s.templateFile, 'utf8')) as CfnTemplate,
          }) as StackArtifact,
      ),
    );
  }

  private add(stackName: string, template: CfnTemplate): void {
    const own = new Map<string, SimResource>();
    const resolver = new TemplateResolver({
      template,
      pseudo: {
        region: REGION,
        accountId: ACCOUNT,
        partition: 'aws',
        urlSuffix: 'amazonaws.com',
        stackName,
        stackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/sim`,
      },
      resources: {
        ref: (logicalId, path) => {
          const found = own.get(logicalId);
          if (found === undefined) throw new Error(`${path}: unknown resource ${logicalId}`);
          return found.physicalId;
        },
        getAtt: (logicalId, attribute, path) => {
          const found = own.get(logicalId);
          const value = found?.attributes[attribute];
          if (value === undefined) throw new Error(`${path}: no ${attribute} of ${logicalId}`);
          return value;
        },
      },
      importValue: (name, path) => {
        const value = this.exports.get(name);
        if (value === undefined) throw new Error(`${path}: no export ${name}`);
        return value;
      },
    });
    // Names first (explicit names may be intrinsics of parameters or other names), then properties.
    const pending = Object.entries(template.Resources);
    for (const [logicalId, resource] of pending) {
      const raw = resource.Properties as Record<string, Json> | undefined;
      const named = (property: string) => {
        if (raw?.[property] === undefined) return undefined;
        try {
          return explicitName({ [property]: resolver.resolve(raw[property] as Json, property) }, property);
        } catch {
          return undefined;
        }
      };
      const { physicalId, attributes } = describe(stackName, logicalId, resource.Type, named);
      const entry: SimResource = {
        stack: stackName,
        logicalId,
        type: resource.Type,
        physicalId,
        attributes,
        properties: {},
      };
      own.set(logicalId, entry);
      this.resources.set(`${stackName}|${logicalId}`, entry);
    }
    for (const [logicalId, resource] of pending) {
      const entry = own.get(logicalId);
      if (entry === undefined) continue;
      for (const [name, value] of Object.entries(resource.Properties ?? {})) {
        try {
          entry.properties[name] = resolver.resolve(
            value as Json,
            `Resources.${logicalId}.Properties.${name}`,
          );
        } catch {
          // left out, as the local deployer does: the registry reads only what it understands
        }
      }
      this.registry.record({
        type: entry.type,
        physicalId: entry.physicalId,
        attributes: entry.attributes,
        properties: entry.properties,
      });
    }
    for (const output of Object.values(template.Outputs ?? {})) {
      const exportName = (output as { Export?: { Name?: Json } }).Export?.Name;
      if (exportName === undefined) continue;
      try {
        const name = resolver.resolve(exportName, 'Outputs.Export.Name');
        const value = resolver.resolve((output as { Value: Json }).Value, 'Outputs.Value');
        if (typeof name === 'string') this.exports.set(name, String(value));
      } catch {
        // an output of something not described here
      }
    }
  }

  /** Every resource of a type, with its stack, logical id and resolved properties. */
  resourcesOf(type: string): readonly SimResource[] {
    return [...this.resources.values()].filter((r) => r.type === type);
  }

  resource(stack: string, logicalId: string): SimResource {
    const found = this.resources.get(`${stack}|${logicalId}`);
    if (found === undefined) throw new Error(`no resource ${logicalId} in stack ${stack}`);
    return found;
  }

  /** The principal of a role (by stack and logical id), as a function running with it. */
  principal(stack: string, roleLogicalId: string): Principal {
    const role = this.resource(stack, roleLogicalId);
    if (role.type !== 'AWS::IAM::Role')
      throw new Error(`${stack}|${roleLogicalId} is ${role.type}, not a role`);
    return this.registry.principalOfRole(String(role.attributes.Arn), 'simulation');
  }

  /** A recorded string with its `{{stack|logicalId[|attribute]}}` tokens replaced by the simulated names. */
  resolveTokens(text: string): string {
    return text.replace(
      /\{\{([^|}]+)\|([^|}]+)(?:\|([^}]+))?\}\}/g,
      (_, stack: string, logicalId: string, attribute?: string) => {
        const found = this.resource(stack, logicalId);
        if (attribute === undefined) return found.physicalId;
        const value = found.attributes[attribute];
        if (value === undefined)
          throw new Error(`no ${attribute} of ${stack}|${logicalId} in the simulation`);
        return value;
      },
    );
  }

  /** The check a recorded call stands for. */
  checkOf(call: RecordedCall): AccessCheck {
    const context: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(call.context))
      context[key] = Array.isArray(value)
        ? value.map((v) => this.resolveTokens(v))
        : this.resolveTokens(String(value));
    return {
      action: call.action,
      resource: this.resolveTokens(call.resource),
      context,
      ...(call.action.startsWith('kms:') && typeof context['kms:ViaService'] === 'string'
        ? { viaService: String(context['kms:ViaService']).split('.')[0] }
        : {}),
    };
  }

  /** `undefined` when allowed, else why not (AWS's wording). */
  async denied(principal: Principal, check: AccessCheck): Promise<string | undefined> {
    const denial = await this.enforcer.firstDenial(principal, [check]);
    if (denial === undefined) return undefined;
    return `${check.action} on ${check.resource} (${denial.explicit ? 'explicit deny' : 'no allow'} in ${denial.policyType})`;
  }

  /** The identity policy documents of a role (inline and attached), from the templates. */
  identityPolicies(principal: Principal): { name: string; policy: PolicyDocument }[] {
    return this.registry.identityPolicies(principal);
  }
}
