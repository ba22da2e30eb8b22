/**
 * Resource types with no local meaning, accepted on purpose: each entry says why, and gives the
 * values `Ref` and `Fn::GetAtt` return so that other resources can still refer to it. A type that is
 * neither here nor in a provider fails the deploy by name.
 */
import { randomUUID } from 'node:crypto';
import { arn, type CreatedResource, generatedName, type LocalEnvironment } from './provider.js';

export interface AllowListContext {
  readonly stackName: string;
  readonly logicalId: string;
  readonly environment: LocalEnvironment;
  /** Resolves one property on demand (undefined when absent). */
  readonly property: (name: string) => unknown;
}

export interface AllowListed {
  readonly reason: string;
  readonly describe: (context: AllowListContext) => CreatedResource;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const nameOf = (context: AllowListContext, property: string, maxLength: number) =>
  text(context.property(property)) ?? generatedName(context.stackName, context.logicalId, maxLength);

const opaque = (context: AllowListContext): CreatedResource => ({
  physicalId: generatedName(context.stackName, context.logicalId, 128),
});

export const ALLOW_LIST: Readonly<Record<string, AllowListed>> = {
  'AWS::CDK::Metadata': {
    reason: 'CDK usage metadata for AWS; nothing to create',
    describe: opaque,
  },
  'AWS::IAM::Role': {
    reason: 'moto does not evaluate IAM; functions run with the local dummy credentials',
    describe: (context) => {
      const name = nameOf(context, 'RoleName', 64);
      return {
        physicalId: name,
        attributes: {
          Arn: `arn:aws:iam::${context.environment.accountId}:role/${name}`,
          RoleId: `AROA${name
            .replace(/[^A-Z0-9]/gi, '')
            .slice(0, 17)
            .toUpperCase()}`,
        },
      };
    },
  },
  'AWS::IAM::Policy': {
    reason: 'moto does not evaluate IAM policies',
    describe: (context) => ({
      physicalId: nameOf(context, 'PolicyName', 128),
      attributes: { Id: randomUUID() },
    }),
  },
  'AWS::IAM::ManagedPolicy': {
    reason: 'moto does not evaluate IAM policies',
    describe: (context) => {
      const policyArn = `arn:aws:iam::${context.environment.accountId}:policy/${nameOf(context, 'ManagedPolicyName', 128)}`;
      return { physicalId: policyArn, attributes: { PolicyArn: policyArn } };
    },
  },
  'AWS::Lambda::Permission': {
    reason: 'resource policies are not evaluated locally; every local caller may invoke',
    describe: opaque,
  },
  'AWS::SQS::QueuePolicy': {
    reason: 'moto does not evaluate resource policies (e.g. SNS → SQS delivery is always allowed)',
    describe: opaque,
  },
  'AWS::SNS::TopicPolicy': {
    reason: 'moto does not evaluate resource policies',
    describe: opaque,
  },
  'AWS::KMS::Key': {
    reason: 'encryption is not emulated; moto accepts key IDs on topics and queues without using them',
    describe: (context) => {
      const keyId = randomUUID();
      return {
        physicalId: keyId,
        attributes: { KeyId: keyId, Arn: arn(context.environment, 'kms', `key/${keyId}`) },
      };
    },
  },
  'AWS::KMS::Alias': {
    reason: 'encryption is not emulated',
    describe: (context) => ({ physicalId: nameOf(context, 'AliasName', 256) }),
  },
  'AWS::Logs::LogGroup': {
    reason: 'function output is captured by the Lambda runner (verbose option), not CloudWatch Logs',
    describe: (context) => {
      const name = nameOf(context, 'LogGroupName', 512);
      return {
        physicalId: name,
        attributes: { Arn: arn(context.environment, 'logs', `log-group:${name}:*`) },
      };
    },
  },
  'AWS::SSM::Parameter': {
    reason:
      'Plugboard handlers take their configuration from environment variables, not SSM; the parameter is not created',
    describe: (context) => {
      const value = context.property('Value');
      return {
        physicalId: nameOf(context, 'Name', 2048),
        attributes: { Type: text(context.property('Type')) ?? 'String', Value: value },
      };
    },
  },
};
