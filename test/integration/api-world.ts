/**
 * The world of the HTTP API tests over real HTTP: the Plugboard app and the example plugins deployed
 * to the local cloud (IAM enforced), roles with the API stack's exported reader and operator policies
 * (as a caller's stack would make them) with local credentials for each, and the local API gateway
 * serving the deployed API stack. `jwt` deploys the app with the JWT authorizer instead of IAM (the
 * `apiJwtIssuer`/`apiJwtAudience` context), checked against a local RS256 issuer.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, ManagedPolicy, Role } from 'aws-cdk-lib/aws-iam';
import { API_EXPORTS, API_JWT_CONTEXT } from '../../lib/api-stack.js';
import { composePlugboard } from '../../lib/plugboard-app.js';
import { LocalApiGateway, LocalJwtIssuer } from '../../local/api-gateway.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { ROOT, synthDemo } from '../../local/demo/synth.js';
import type { LocalCredentials } from '../../local/iam/registry.js';
import config from '../../plugboard.config.js';
import { E2E_STAGE } from '../e2e/fixture.js';

export const API_DEPLOYMENT = { systemName: 'plugboard', stage: E2E_STAGE } as const;

export interface ApiWorld {
  readonly env: DemoEnvironment;
  readonly gateway: LocalApiGateway;
  readonly reader: LocalCredentials;
  readonly operator: LocalCredentials;
  /** The local issuer the gateway trusts (JWT worlds only). */
  readonly issuer?: LocalJwtIssuer;
  close(): Promise<void>;
}

export interface ApiWorldOptions {
  readonly endpoint: string;
  /** Deploy the API with the JWT authorizer of this issuer URL and audience. */
  readonly jwt?: { readonly issuer: string; readonly audience: string };
}

/** Roles with the API stack's exported reader and operator policies. */
function callerRolesAssembly(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'api-callers-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'api-callers');
  for (const permission of ['read', 'operate'] as const) {
    new Role(stack, `${permission}Role`, {
      assumedBy: new AccountRootPrincipal(),
      managedPolicies: [
        ManagedPolicy.fromManagedPolicyArn(
          stack,
          `${permission}Policy`,
          Fn.importValue(API_EXPORTS.policyArn(API_DEPLOYMENT, permission)),
        ),
      ],
    });
  }
  app.synth();
  return outdir;
}

/** The Plugboard app synthesized with the JWT authorizer (a context switch of the same app). */
function jwtAppAssembly(jwt: NonNullable<ApiWorldOptions['jwt']>): string {
  const outdir = mkdtempSync(join(tmpdir(), 'api-jwt-app-'));
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const app = new App({
    context: {
      ...cdkJson.context,
      stage: E2E_STAGE,
      ephemeral: true,
      [API_JWT_CONTEXT.issuer]: jwt.issuer,
      [API_JWT_CONTEXT.audience]: jwt.audience,
    },
    outdir,
    builtinCloudFormationValidation: false,
  });
  composePlugboard(app, { config, nag: false });
  app.synth();
  return outdir;
}

export async function startApiWorld(options: ApiWorldOptions): Promise<ApiWorld> {
  const demo = synthDemo({ stage: E2E_STAGE });
  const issuer = options.jwt ? new LocalJwtIssuer(options.jwt.issuer) : undefined;
  const assemblies = options.jwt ? { app: jwtAppAssembly(options.jwt), examples: demo.examples } : demo;
  const env = await DemoEnvironment.start(assemblies, {
    stage: E2E_STAGE,
    endpoint: options.endpoint,
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
  });
  try {
    const [callers] = await env.local.deploy(callerRolesAssembly());
    const registry = env.local.iam?.registry;
    if (callers === undefined || registry === undefined) throw new Error('IAM is not enforced');
    const roleArn = (logical: string) => {
      const found = [...callers.resources.values()].find(
        (r) => r.type === 'AWS::IAM::Role' && r.logicalId.startsWith(logical),
      );
      return String(found?.attributes.Arn);
    };
    const reader = registry.issueCredentials('api-reader', roleArn('readRole'));
    const operator = registry.issueCredentials('api-operator', roleArn('operateRole'));
    const apiStack = env.local.deployer.stack(`plugboard-${E2E_STAGE}-api`);
    if (apiStack === undefined) throw new Error('the API stack was not deployed');
    const gateway = await LocalApiGateway.start({
      stack: apiStack,
      local: env.local,
      ...(issuer ? { jwtKeys: [issuer.publicKey] } : {}),
    });
    return {
      env,
      gateway,
      reader,
      operator,
      ...(issuer ? { issuer } : {}),
      close: async () => {
        await gateway.close();
        await env.stop();
      },
    };
  } catch (error) {
    await env.stop();
    throw error;
  }
}
