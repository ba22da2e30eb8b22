import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CFN_LINT_INSTALL_HINT, CfnLintError, cfnLint } from '../support/synth.js';

describe('cfnLint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plugboard-cfn-lint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'broken.template.json'),
    JSON.stringify({
      Resources: { Inbox: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'a while' } } },
    }),
  );

  it('fails with cfn-lint’s output when a template has an error', () => {
    let failure: unknown;
    try {
      cfnLint(dir);
    } catch (error) {
      failure = error;
    }

    expect(failure).toBeInstanceOf(CfnLintError);
    expect((failure as CfnLintError).output).toMatch(/E\d{4}/);
    expect((failure as CfnLintError).message).toContain('broken.template.json');
  });

  it('tells how to install cfn-lint when it is missing', () => {
    expect(() => cfnLint(dir, { command: 'cfn-lint-that-does-not-exist' })).toThrow(CFN_LINT_INSTALL_HINT);
  });
});
