import {
  type App,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';

/**
 * Runs a cdk-nag pack and reports every finding it did not see acknowledged as an error. The packs
 * rate some rules as warnings, and CDK lets warnings through once any other finding is acknowledged;
 * Plugboard wants synth to fail on every finding that has no acknowledgement with a reason.
 */
export class StrictNagPack implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];

  constructor(private readonly pack: IPolicyValidationPlugin) {
    this.name = pack.name;
    if (pack.version !== undefined) this.version = pack.version;
    if (pack.ruleIds !== undefined) this.ruleIds = pack.ruleIds;
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = this.pack.validate(context);
    const violations = report.violations.map((v) => ({ ...v, severity: 'error' }));
    return { ...report, success: violations.length === 0, violations };
  }
}

/** Adds the AwsSolutions and Serverless packs to `app` (cdk-nag v3: CDK policy validation plugins). */
export function applyNagChecks(app: App): void {
  Validations.of(app).addPlugins(
    new StrictNagPack(new AwsSolutionsChecks(app)),
    new StrictNagPack(new ServerlessChecks(app)),
  );
}
