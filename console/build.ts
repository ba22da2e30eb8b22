/**
 * Builds the console: one esbuild bundle of console/src (Preact included, minified), its style sheet
 * and index.html, into a directory any static host serves (the local console server, the
 * ConsoleHosting construct's bucket). Nothing is fetched from elsewhere at run time.
 * `npx tsx console/build.ts [outdir]` builds and prints the sizes.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, buildSync } from 'esbuild';

export const CONSOLE_ROOT = dirname(fileURLToPath(import.meta.url));
/** Where the console is built by default (git-ignored). */
export const CONSOLE_DIST = join(CONSOLE_ROOT, 'dist');

export interface ConsoleBuild {
  readonly outdir: string;
  /** Bytes of each file, and gzipped. */
  readonly files: readonly { readonly name: string; readonly bytes: number; readonly gzipBytes: number }[];
}

function options(outdir: string): BuildOptions {
  return {
    entryPoints: [
      { in: join(CONSOLE_ROOT, 'src', 'main.tsx'), out: 'app' },
      { in: join(CONSOLE_ROOT, 'styles.css'), out: 'app' },
    ],
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(CONSOLE_ROOT, 'tsconfig.json'),
    legalComments: 'none',
    logLevel: 'silent',
  };
}

function finish(outdir: string): ConsoleBuild {
  copyFileSync(join(CONSOLE_ROOT, 'index.html'), join(outdir, 'index.html'));
  const files = ['index.html', 'app.js', 'app.css'].map((name) => {
    const content = readFileSync(join(outdir, name));
    return { name, bytes: statSync(join(outdir, name)).size, gzipBytes: gzipSync(content).length };
  });
  return { outdir, files };
}

export async function buildConsole(outdir: string = CONSOLE_DIST): Promise<ConsoleBuild> {
  mkdirSync(outdir, { recursive: true });
  await build(options(outdir));
  return finish(outdir);
}

/** The same build, synchronously (CDK synthesis, which cannot wait for a promise). */
export function buildConsoleSync(outdir: string = CONSOLE_DIST): ConsoleBuild {
  mkdirSync(outdir, { recursive: true });
  buildSync(options(outdir));
  return finish(outdir);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildConsole(process.argv[2] ?? CONSOLE_DIST);
  for (const f of built.files) {
    process.stdout.write(
      `${f.name.padEnd(12)} ${String(f.bytes).padStart(7)} B  ${String(f.gzipBytes).padStart(6)} B gzipped\n`,
    );
  }
  process.stdout.write(`built into ${built.outdir}\n`);
}
