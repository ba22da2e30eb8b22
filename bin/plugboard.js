#!/usr/bin/env node
// The `plugboard` command inside this checkout: registers tsx so the TypeScript CLI runs without a
// build step. Outside the checkout, install the compiled package @plugboard/cli (packages/cli).
import { readFileSync } from 'node:fs';
import { register } from 'tsx/esm/api';

// The SDK warns on every Node 20 process that future SDK releases need Node 22: noise for operators
// (the lockfile pins SDK versions that support Node 20). Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
// The same version as the package built from this checkout.
const { version } = JSON.parse(
  readFileSync(new URL('../packages/cli/package.json', import.meta.url), 'utf8'),
);
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv, { version });
