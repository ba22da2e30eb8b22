/**
 * Which copy of Plugboard a synth produces, read from the CDK context:
 * `--context stage=dev` (default `dev`), `--context systemName=plugboard` (default `plugboard`) and
 * `--context ephemeral=true|false` (default: whether the stage is listed in `ephemeralStages`).
 */
import type { DeploymentRef } from '../../plugin-kit/src/contracts/index.js';
import { type ConfigProblem, ConfigValidationError } from '../errors.js';
import { DEPLOYMENT_STAGE_NAME } from './workflow-config.js';

/** Allowed `systemName` values: it prefixes every stack, export and queue name. */
export const SYSTEM_NAME = /^[a-z][a-z0-9-]{0,19}$/;

export const DEFAULT_STAGE = 'dev';
export const DEFAULT_SYSTEM_NAME = 'plugboard';

/** Reads one context value (App.node.tryGetContext fits). */
export type ContextReader = (key: string) => unknown;

export interface DeploymentContext extends DeploymentRef {
  /** `ephemeral` from the context, when it was given; otherwise the workflow config decides. */
  readonly ephemeral?: boolean;
}

/** Reads and validates the deployment context; throws one error that lists every bad value. */
export function readDeploymentContext(read: ContextReader): DeploymentContext {
  const problems: ConfigProblem[] = [];
  const stage = read('stage') ?? DEFAULT_STAGE;
  const systemName = read('systemName') ?? DEFAULT_SYSTEM_NAME;
  const ephemeralRaw = read('ephemeral');

  if (typeof stage !== 'string' || !DEPLOYMENT_STAGE_NAME.test(stage)) {
    problems.push({
      path: 'context.stage',
      value: stage,
      message:
        'use 1-12 characters, a lower-case letter first, then lower-case letters or digits (e.g. --context stage=dev)',
    });
  }
  if (typeof systemName !== 'string' || !SYSTEM_NAME.test(systemName)) {
    problems.push({
      path: 'context.systemName',
      value: systemName,
      message:
        'use 1-20 characters, a lower-case letter first, then lower-case letters, digits or hyphens (e.g. --context systemName=plugboard)',
    });
  }
  let ephemeral: boolean | undefined;
  if (ephemeralRaw === true || ephemeralRaw === 'true') ephemeral = true;
  else if (ephemeralRaw === false || ephemeralRaw === 'false') ephemeral = false;
  else if (ephemeralRaw !== undefined) {
    problems.push({
      path: 'context.ephemeral',
      value: ephemeralRaw,
      message: 'use --context ephemeral=true or --context ephemeral=false (or leave it out)',
    });
  }
  if (problems.length > 0) throw new ConfigValidationError('CDK context', problems);
  return {
    stage: String(stage),
    systemName: String(systemName),
    ...(ephemeral === undefined ? {} : { ephemeral }),
  };
}
