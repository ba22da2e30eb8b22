/**
 * The console's own stack, `<system>-<stage>-console` (opt-in: `--context console=true` with the
 * API's JWT option and `--context consoleClientId=…`): the ConsoleHosting construct in front of the
 * API stack's exported URL. Its own stack so a deployment without a console has no CloudFront, and
 * the API stack never depends on the console. Exports the console URL (`…-console-url`), which the
 * CLI and the lifecycle events link runs to.
 */
import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { consoleUrlExport } from '../lambdas/api/console-links.js';
import type { DeploymentRef } from '../plugin-kit/src/contracts/index.js';
import { API_EXPORTS } from './api-stack.js';
import { ConsoleHosting } from './console-hosting.js';

export const CONSOLE_CONTEXT = { enabled: 'console', clientId: 'consoleClientId' } as const;

export const CONSOLE_EXPORTS = { url: consoleUrlExport } as const;

export interface ConsoleStackProps extends StackProps {
  readonly deployment: DeploymentRef;
  /** The OIDC issuer of the API's JWT authorizer. */
  readonly oidcIssuer: string;
  /** The console's public OIDC client id. */
  readonly oidcClientId: string;
  /** @default false */
  readonly ephemeral?: boolean;
  /** Log groups a run page links to. @default - none */
  readonly logGroupNames?: readonly string[];
}

export class ConsoleStack extends Stack {
  readonly hosting: ConsoleHosting;

  constructor(scope: Construct, id: string, props: ConsoleStackProps) {
    super(scope, id, props);
    this.hosting = new ConsoleHosting(this, 'Console', {
      apiUrl: Fn.importValue(API_EXPORTS.url(props.deployment)),
      oidcIssuer: props.oidcIssuer,
      oidcClientId: props.oidcClientId,
      ...(props.ephemeral !== undefined ? { ephemeral: props.ephemeral } : {}),
      ...(props.logGroupNames !== undefined ? { logGroupNames: props.logGroupNames } : {}),
    });
    new CfnOutput(this, 'ConsoleUrl', {
      value: this.hosting.url,
      exportName: CONSOLE_EXPORTS.url(props.deployment),
      description: 'The web console (register it as the OIDC client’s callback URL)',
    });
  }
}
