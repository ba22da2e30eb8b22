#!/usr/bin/env node
// The `plugboard` command: registers tsx so the TypeScript CLI runs without a build step.
import { register } from 'tsx/esm/api';

// The SDK warns on every Node 20 process that future SDK releases need Node 22: noise for operators
// (the lockfile pins SDK versions that support Node 20). Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv);
