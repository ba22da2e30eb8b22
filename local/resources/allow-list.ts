/**
 * Resource types with no local meaning, accepted on purpose: each entry says why, and gives the
 * values `Ref` and `Fn::GetAtt` return so that other resources can still refer to it. A type that is
 * neither here nor in a provider fails the deploy by name.
 */
import { randomUUID } from 'node:crypto';
import { roleIdOf } from '../iam/registry.js';
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
    reason:
      'not created in moto; IAM is evaluated by the local cloud itself (local/iam), which hands each function credentials of its role',
    describe: (context) => {
      const name = nameOf(context, 'RoleName', 64);
      const path = typeof context.property('Path') === 'string' ? String(context.property('Path')) : '/';
      const roleArn = `arn:aws:iam::${context.environment.accountId}:role${path}${name}`;
      return { physicalId: name, attributes: { Arn: roleArn, RoleId: roleIdOf(roleArn) } };
    },
  },
  'AWS::IAM::Policy': {
    reason: 'not created in moto; the local cloud evaluates it itself (local/iam)',
    describe: (context) => ({
      physicalId: nameOf(context, 'PolicyName', 128),
      attributes: { Id: randomUUID() },
    }),
  },
  'AWS::IAM::ManagedPolicy': {
    reason: 'not created in moto; the local cloud evaluates it itself (local/iam)',
    describe: (context) => {
      const policyArn = `arn:aws:iam::${context.environment.accountId}:policy/${nameOf(context, 'ManagedPolicyName', 128)}`;
      return { physicalId: policyArn, attributes: { PolicyArn: policyArn } };
    },
  },
  'AWS::ApiGatewayV2::Api': {
    reason:
      'the HTTP API is served on loopback by local/api-gateway.ts, which reads its routes from the template; nothing is created in moto',
    describe: (context) => {
      const apiId = randomUUID().replace(/-/g, '').slice(0, 10);
      const { region } = context.environment;
      return {
        physicalId: apiId,
        attributes: { ApiId: apiId, ApiEndpoint: `https://${apiId}.execute-api.${region}.amazonaws.com` },
      };
    },
  },
  'AWS::ApiGatewayV2::Stage': {
    reason:
      'served by local/api-gateway.ts (the $default stage); throttling and access logs are not emulated',
    describe: (context) => ({ physicalId: text(context.property('StageName')) ?? '$default' }),
  },
  'AWS::ApiGatewayV2::Route': {
    reason: 'served by local/api-gateway.ts from the template (route key, authorization, scopes)',
    describe: opaque,
  },
  'AWS::ApiGatewayV2::Integration': {
    reason: 'served by local/api-gateway.ts, which invokes the integrated function through the Lambda runner',
    describe: opaque,
  },
  'AWS::ApiGatewayV2::Authorizer': {
    reason: 'JWT authorizers are checked by local/api-gateway.ts against a local issuer',
    describe: opaque,
  },
  'AWS::Lambda::Permission': {
    reason:
      'evaluated by the local cloud (local/iam) as the function’s resource policy for callers of the Lambda Invoke endpoint; invocations by event sources and SNS inside the runner are not checked against it',
    describe: opaque,
  },
  'AWS::SQS::QueuePolicy': {
    reason:
      'evaluated by the local cloud (local/iam) for callers of the queue; SNS → SQS delivery inside moto is not checked against it',
    describe: opaque,
  },
  'AWS::SNS::TopicPolicy': {
    reason: 'evaluated by the local cloud (local/iam) for callers of the topic',
    describe: opaque,
  },
  'AWS::KMS::Key': {
    reason:
      'encryption is not emulated (moto accepts key IDs without using them); its key policy is evaluated by the local cloud (local/iam) for the KMS calls AWS makes on a publisher’s behalf',
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
  'AWS::Logs::QueryDefinition': {
    reason: 'Logs Insights is not emulated; the saved queries are for the CloudWatch console',
    describe: () => {
      const id = randomUUID();
      return { physicalId: id, attributes: { QueryDefinitionId: id } };
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
