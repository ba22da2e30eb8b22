/**
 * The real Plugboard app on the local cloud: the core stack and one activity stack, synthesized with
 * their esbuild bundles exactly as `cdk synth --context stage=local` does, deployed on moto, and their
 * wiring compared with the templates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployedStack, LocalCloud } from '../../local/index.js';
import { startLocalCloud } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';
import { synthApp } from '../support/synth.js';

const STACKS = ['plugboard-local-core', 'plugboard-local-activity-intake'];

const moto = useMoto();
const outdir = mkdtempSync(join(tmpdir(), 'plugboard-real-app-'));
let local: LocalCloud;
let deployed: DeployedStack[];

beforeAll(async () => {
  synthApp({
    stage: 'local',
    bundling: true,
    nag: false,
    builtinValidation: false,
    outdir,
    context: { 'aws:cdk:bundling-stacks': STACKS },
  });
  local = await startLocalCloud(moto.endpoint, { scheduleSpeedUp: 1 });
  deployed = await local.deploy(outdir, { stacks: STACKS });
}, 300_000); // bundling and synthesizing take most of a minute on a loaded machine

afterAll(async () => {
  await local?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

describe('the synthesized Plugboard app on the local cloud', () => {
  it('deploys the core stack and an activity stack, which imports the core exports', () => {
    expect(deployed.map((stack) => stack.stackName)).toEqual(STACKS);
    for (const stack of deployed) {
      expect(stack.resources.size + stack.skippedByCondition.length).toBe(
        Object.keys(stack.artifact.template.Resources).length,
      );
    }
  });

  it('wires every subscription, event source mapping, redrive policy and schedule as the templates say', async () => {
    const differences = await local.checkTopology();

    expect(differences).toEqual([]);
    expect(local.runner.eventSourceMappings().length).toBeGreaterThanOrEqual(4);
    expect(local.runner.schedules()).toHaveLength(1);
  });

  it("resolves the handlers' inbox URL template to queue URLs moto serves", () => {
    const templates = local.runner
      .functions()
      .map((fn) => fn.environment.PLUGBOARD_INBOX_URL_TEMPLATE)
      .filter((value) => value !== undefined);

    expect(templates.length).toBeGreaterThan(0);
    for (const template of templates) {
      // SDK clients reach moto through the local cloud's proxy, so the URLs name the proxy.
      expect(template).toBe(`${local.endpoint}/123456789012/plugboard-local-{activity}-{stage}-inbox`);
    }
  });

  it('loads every bundle in the Lambda runner (no runtime or import error on a first invocation)', async () => {
    const results = await Promise.all(
      local.runner.functions().map((fn) => local.invoke(fn.name, { localCloudProbe: true })),
    );

    for (const result of results) {
      const errorType = result.ok ? undefined : result.error.errorType;
      expect(
        errorType ?? 'none',
        `${result.functionName}: ${result.ok ? '' : result.error.errorMessage}`,
      ).not.toMatch(/^Runtime\./);
    }
    expect(results.length).toBeGreaterThanOrEqual(6);
  }, 180_000);
});
