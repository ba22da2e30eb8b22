/**
 * Test fixture: synthesize the Plugboard CDK app exactly as `cdk synth` does (same composition, same
 * feature flags from cdk.json), and lint the result with cfn-lint.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { composePlugboard, type PlugboardStacks } from '../../lib/plugboard-app.js';
import shippedConfig from '../../plugboard.config.js';

export const CFN_LINT_INSTALL_HINT = "pip install 'moto[server]==5.2.1' 'cfn-lint==1.51.0'";

const CDK_JSON = fileURLToPath(new URL('../../cdk.json', import.meta.url));

export interface SynthAppOptions {
  /** `--context stage=…` @default 'dev' */
  readonly stage?: string;
  /** `--context systemName=…` @default - the app's default (`plugboard`) */
  readonly systemName?: string;
  /** `--context ephemeral=…` @default - decided by the config's `ephemeralStages` */
  readonly ephemeral?: boolean | string;
  /**
   * Whether to bundle the Lambda handlers with esbuild (slow). Off means
   * `context: { 'aws:cdk:bundling-stacks': [] }`.
   * @default false
   */
  readonly bundling?: boolean;
  /** The workflow config. @default - the shipped plugboard.config.ts */
  readonly config?: unknown;
  /** Whether the cdk-nag packs run. @default true */
  readonly nag?: boolean;
  /** Whether the CDK's built-in CloudFormation validation runs (slow on first use). @default true */
  readonly builtinValidation?: boolean;
  /** Where the cloud assembly is written. @default - a temporary directory chosen by the CDK */
  readonly outdir?: string;
  /** Extra context, applied last. */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Runs after composition and before synthesis (e.g. to add a resource). */
  readonly beforeSynth?: (stacks: PlugboardStacks) => void;
}

export interface SynthResult {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly stacks: PlugboardStacks;
}

/** The `context` block of cdk.json: the feature flags `cdk synth` runs with. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(CDK_JSON, 'utf8'));
  if (parsed === null || typeof parsed !== 'object' || !('context' in parsed)) return {};
  const context = (parsed as { context: unknown }).context;
  return context !== null && typeof context === 'object' ? { ...(context as Record<string, unknown>) } : {};
}

/** Composes and synthesizes the app; throws what `cdk synth` would fail with. */
export function synthApp(options: SynthAppOptions = {}): SynthResult {
  const context: Record<string, unknown> = {
    ...cdkJsonContext(),
    stage: options.stage ?? 'dev',
    ...(options.systemName === undefined ? {} : { systemName: options.systemName }),
    ...(options.ephemeral === undefined ? {} : { ephemeral: options.ephemeral }),
    ...(options.bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
    ...options.context,
  };
  const app = new App({
    context,
    builtinCloudFormationValidation: options.builtinValidation ?? true,
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const stacks = composePlugboard(app, {
    config: options.config ?? shippedConfig,
    ...(options.nag === undefined ? {} : { nag: options.nag }),
  });
  options.beforeSynth?.(stacks);
  const assembly = app.synth();
  return { app, assembly, stacks };
}

/** Logical ID of the CloudFormation resource behind an L2 construct (its default child). */
export function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (!child || !CfnElement.isCfnElement(child)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource as its default child`);
  }
  return Stack.of(child).getLogicalId(child);
}

/** One statement of an IAM policy document, as synthesized. */
export interface StatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of every `AWS::IAM::Policy` attached to the role with this logical ID. */
export function roleStatements(template: Template, roleLogicalId: string): StatementJson[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((policy) => {
    const props = policy.Properties as {
      Roles?: { Ref?: string }[];
      PolicyDocument: { Statement: StatementJson[] };
    };
    return (props.Roles ?? []).some((r) => r.Ref === roleLogicalId) ? props.PolicyDocument.Statement : [];
  });
}

/** Statements of `statements` that allow `action` (exact match). */
export function allowing(statements: readonly StatementJson[], action: string): StatementJson[] {
  return statements.filter((s) => s.Effect === 'Allow' && asArray(s.Action).includes(action));
}

export class CfnLintError extends Error {
  readonly output: string;
  constructor(message: string, output: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.output = output;
  }
}

/**
 * Runs `cfn-lint --non-zero-exit-code error` on every `*.template.json` in `dir`; returns its output
 * (warnings) and throws {@link CfnLintError} with the output when it finds errors. Fails with the install
 * command when cfn-lint is missing.
 */
export function cfnLint(dir: string, options: { readonly command?: string } = {}): string {
  const templates = readdirSync(dir)
    .filter((name) => name.endsWith('.template.json'))
    .map((name) => join(dir, name));
  if (templates.length === 0) throw new CfnLintError(`no *.template.json in ${dir}`, '');
  const result = spawnSync(options.command ?? 'cfn-lint', ['--non-zero-exit-code', 'error', ...templates], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CfnLintError(
      missing
        ? `cfn-lint is not installed (or not on PATH). Install it with: ${CFN_LINT_INSTALL_HINT}`
        : `cfn-lint could not run: ${result.error.message}`,
      '',
      { cause: result.error },
    );
  }
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.status !== 0) {
    throw new CfnLintError(`cfn-lint found errors in ${templates.length} templates:\n${output}`, output);
  }
  return output;
}
