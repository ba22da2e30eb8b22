/**
 * The Plugboard CDK app: `npx cdk deploy --all --context stage=dev [--context systemName=plugboard]`.
 * It only composes; see lib/plugboard-app.ts for the stacks (and the place of the metrics stack).
 */
import { App } from 'aws-cdk-lib';
import { ConfigValidationError } from '../lib/errors.js';
import { composePlugboard } from '../lib/plugboard-app.js';
import config from '../plugboard.config.js';

try {
  const app = new App();
  composePlugboard(app, { config });
  app.synth();
} catch (error) {
  // A bad config or context is the user's to fix: show the list of problems, not a stack trace.
  if (!(error instanceof ConfigValidationError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
