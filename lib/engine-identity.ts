import { Tags } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { DeploymentRef } from '../plugin-kit/src/contracts/index.js';

/**
 * The role tag that marks the engine's roles (start, sweeper, registrar, stage orchestrators, API,
 * liveness) of one deployment, `plugboard:engine=<system>-<stage>`: the stage topics' policy lets
 * only such roles publish, and the status table's policy, when operators are listed, lets only them
 * (and the operators) write. Tagging a role needs `iam:TagRole`, which no plugin role holds
 * (docs/security.md says what that does and does not cover).
 */
export const ENGINE_TAG_KEY = 'plugboard:engine';

export const engineTagValue = (d: DeploymentRef): string => `${d.systemName}-${d.stage}`;

/** Tags `role` as an engine role of deployment `d`. */
export function tagEngineRole(role: IRole, d: DeploymentRef): void {
  Tags.of(role).add(ENGINE_TAG_KEY, engineTagValue(d), { includeResourceTypes: ['AWS::IAM::Role'] });
}
