// Builds the `plugboard` bin: one ES module bundle of bin/cli/main.ts (commander, zod, the AWS SDK
// clients and the engine's adapters included), so the package has no runtime dependencies and no
// TypeScript loader. Run by `npm run build` and by `prepack` (so `npm pack` always ships a fresh one).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

await build({
  entryPoints: [join(here, 'src/plugboard.ts')],
  outfile: join(here, 'dist/plugboard.js'),
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  format: 'esm',
  // The SDK's ES module builds tree-shake better than their CommonJS ones.
  mainFields: ['module', 'main'],
  minify: true,
  legalComments: 'linked',
  sourcemap: false,
  define: { PLUGBOARD_CLI_VERSION: JSON.stringify(version) },
  // CommonJS modules in the bundle (commander, parts of the SDK) call require() for Node's built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __plugboardRequire } from 'node:module';\nconst require = __plugboardRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
