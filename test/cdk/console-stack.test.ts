/**
 * The console's stack: opt-in (`--context console=true`, with the API's JWT option and a client id),
 * a private bucket read by CloudFront through origin access control only, the API behind the same
 * distribution under /api/* (no cache, the Authorization header passed), config.json written with the
 * OIDC issuer and client, the console URL exported, and a nag-clean synth.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CONSOLE_EXPORTS } from '../../lib/console-stack.js';
import { synthApp } from '../support/synth.js';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example';
const withConsole = {
  console: 'true',
  apiJwtIssuer: ISSUER,
  apiJwtAudience: 'console-client',
  consoleClientId: 'console-client',
};

describe('ConsoleStack', () => {
  it('is not part of a deployment unless asked for', () => {
    const { stacks } = synthApp({ nag: false, builtinValidation: false });
    expect(stacks.console).toBeUndefined();
  });

  it('refuses console=true without the API JWT option and a client id, saying what to give', () => {
    expect(() => synthApp({ nag: false, builtinValidation: false, context: { console: 'true' } })).toThrow(
      /consoleClientId=<the console's public OIDC client id>/,
    );
  });

  it('synthesizes <system>-<stage>-console without unacknowledged nag findings', () => {
    const { stacks } = synthApp({ builtinValidation: false, context: withConsole });
    expect(stacks.console?.stackName).toBe('plugboard-dev-console');
  });

  it('keeps the bucket private and lets only the distribution read it, through origin access control', () => {
    const { stacks } = synthApp({ nag: false, builtinValidation: false, context: withConsole });
    const template = Template.fromStack(stacks.console as never);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    const policies = template.findResources('AWS::S3::BucketPolicy');
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties
          .PolicyDocument.Statement,
    );
    const reads = statements.filter((s) => JSON.stringify(s.Action).includes('s3:GetObject'));
    expect(reads).toHaveLength(1);
    expect(reads[0]?.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(JSON.stringify(reads[0]?.Condition)).toContain('AWS:SourceArn');
    expect(
      statements.some(
        (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport'),
      ),
    ).toBe(true);
  });

  it('serves the API under /api/* from the same origin, uncached, with the caller’s headers and the prefix stripped', () => {
    const { stacks } = synthApp({ nag: false, builtinValidation: false, context: withConsole });
    const template = Template.fromStack(stacks.console as never);
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0] as {
      Properties: {
        DistributionConfig: { CacheBehaviors: Record<string, unknown>[]; DefaultRootObject: string };
      };
    };
    const config = distribution.Properties.DistributionConfig;
    expect(config.DefaultRootObject).toBe('index.html');
    const api = config.CacheBehaviors.find((b) => b.PathPattern === '/api/*');
    expect(api?.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
    expect(api?.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // AllViewerExceptHostHeader
    expect(api?.ViewerProtocolPolicy).toBe('https-only');
    const fn = Object.values(template.findResources('AWS::CloudFront::Function'))[0] as {
      Properties: { FunctionCode: string };
    };
    expect(fn.Properties.FunctionCode).toContain("request.uri.replace(/^\\/api(?=\\/|$)/, '')");
  });

  it('writes config.json with the OIDC issuer, client and the API scopes, and exports the console URL', () => {
    const { stacks, assembly } = synthApp({ nag: false, builtinValidation: false, context: withConsole });
    const template = Template.fromStack(stacks.console as never);
    // config.json is staged as an asset of the deployment (no tokens in it: the issuer is a string).
    const staged = readdirSync(assembly.directory)
      .map((entry) => join(assembly.directory, entry, 'config.json'))
      .filter((file) => existsSync(file));
    expect(staged).toHaveLength(1);
    const config = JSON.parse(readFileSync(staged[0] ?? '', 'utf8'));
    expect(config).toEqual({
      apiBase: '/api',
      auth: {
        kind: 'oidc',
        issuer: ISSUER,
        clientId: 'console-client',
        scopes: ['plugboard/read', 'plugboard/start', 'plugboard/operate'],
      },
      pollMs: 2000,
    });
    template.resourceCountIs('Custom::CDKBucketDeployment', 1);
    template.hasOutput('ConsoleUrl', {
      Export: { Name: CONSOLE_EXPORTS.url({ systemName: 'plugboard', stage: 'dev' }) },
    });
  });
});
