/**
 * The browser tests' world: a local cloud with the Plugboard app and the example plugins deployed
 * (as `npm start` deploys them), the local API gateway, the console built into a temporary folder,
 * and two console servers: one acting as the local administrator, one as a role holding only the API
 * stack's exported reader policy. Headless Chromium from Debian's `chromium` package, driven by
 * playwright-core (no browser download).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, ManagedPolicy, Role } from 'aws-cdk-lib/aws-iam';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildConsole } from '../../console/build.js';
import { API_EXPORTS } from '../../lib/api-stack.js';
import { LocalApiGateway } from '../../local/api-gateway.js';
import { ConsoleServer } from '../../local/console-server.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import { E2E_STAGE } from '../e2e/fixture.js';

/** Debian's package (`apt-get install -y chromium`); `.ci/run` installs it when missing. */
export const CHROMIUM = process.env.PLUGBOARD_CHROMIUM ?? '/usr/bin/chromium';
/** `PLUGBOARD_SCREENSHOTS=1` writes the screenshots docs/console.md shows (off in CI: a clean tree). */
export const SCREENSHOTS = process.env.PLUGBOARD_SCREENSHOTS === '1';
export const DOCS_IMAGES = join(import.meta.dirname, '..', '..', 'docs', 'console');

export interface ConsoleWorld {
  readonly env: DemoEnvironment;
  readonly gateway: LocalApiGateway;
  readonly admin: ConsoleServer;
  readonly reader: ConsoleServer;
  readonly browser: Browser;
  page(): Promise<Page>;
  stop(): Promise<void>;
}

/** A role with the API stack's exported reader policy, as a caller's own stack would make it. */
function readerRoleAssembly(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'console-callers-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'console-callers');
  new Role(stack, 'readRole', {
    assumedBy: new AccountRootPrincipal(),
    managedPolicies: [
      ManagedPolicy.fromManagedPolicyArn(
        stack,
        'readPolicy',
        Fn.importValue(API_EXPORTS.policyArn({ systemName: 'plugboard', stage: E2E_STAGE }, 'read')),
      ),
    ],
  });
  app.synth();
  return outdir;
}

export async function startConsoleWorld(endpoint: string): Promise<ConsoleWorld> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set PLUGBOARD_CHROMIUM`,
    );
  }
  const env = await DemoEnvironment.start(synthDemo({ stage: E2E_STAGE }), {
    stage: E2E_STAGE,
    endpoint,
    handleSignals: false,
    // Schedules at their deployed rate: the hanging courier stays In Progress until it answers (13 s),
    // long enough to cancel its run from the console.
    scheduleSpeedUp: 1,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
  });
  const [callers] = await env.local.deploy(readerRoleAssembly());
  const registry = env.local.iam?.registry;
  if (callers === undefined || registry === undefined) throw new Error('IAM is not enforced');
  const role = [...callers.resources.values()].find(
    (r) => r.type === 'AWS::IAM::Role' && r.logicalId.startsWith('readRole'),
  );
  const readerCredentials = registry.issueCredentials('console-reader', String(role?.attributes.Arn));
  const apiStack = env.local.deployer.stack(`plugboard-${E2E_STAGE}-api`);
  if (apiStack === undefined) throw new Error('the API stack was not deployed');
  const gateway = await LocalApiGateway.start({ stack: apiStack, local: env.local });
  const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  await buildConsole(dist);
  const admin = await ConsoleServer.start({ gateway, local: env.local, distDir: dist, pollMs: 1000 });
  const reader = await ConsoleServer.start({
    gateway,
    local: env.local,
    distDir: dist,
    pollMs: 1000,
    identity: { name: 'console-reader', credentials: readerCredentials },
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return {
    env,
    gateway,
    admin,
    reader,
    browser,
    page: async () => {
      const context = await browser.newContext({
        viewport: { width: 1400, height: 900 },
        reducedMotion: 'reduce',
      });
      return context.newPage();
    },
    stop: async () => {
      await browser.close().catch(() => undefined);
      await Promise.all([admin.close(), reader.close(), gateway.close()]);
      await env.stop();
    },
  };
}

/** Writes a screenshot of `page` to docs/console/<name>.png when screenshots are asked for. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(DOCS_IMAGES, { recursive: true });
  await page.screenshot({ path: join(DOCS_IMAGES, `${name}.png`), fullPage: false });
}

/** Writes a measurement next to the screenshots when screenshots are asked for. */
export function recordMeasurement(name: string, value: unknown): void {
  process.stdout.write(`${name}: ${JSON.stringify(value)}\n`);
  if (!SCREENSHOTS) return;
  mkdirSync(DOCS_IMAGES, { recursive: true });
  writeFileSync(join(DOCS_IMAGES, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
}
