/**
 * Packages the Lambda Node.js runtime provides (`@aws-sdk/*`, `@smithy/*`): bundles may leave them
 * external, and the worker then resolves them from the project. Imported by worker-main.ts, so it
 * must only use the language itself.
 */
export const RUNTIME_PROVIDED = /^(@aws-sdk|@smithy)\//;

/**
 * Whether a bundle may `import` a runtime-provided package: `from "@aws-sdk/…"`, `import("@aws-sdk/…")`
 * or a bare `import "@aws-sdk/…"` statement. Text that merely mentions such an import (an SDK error
 * message quoting one) may match too; that only costs the resolve hook.
 */
export function importsRuntimeProvided(source: string): boolean {
  return /(?:\bfrom\s*|\bimport\s*\(\s*|(?:^|[;}])\s*import\s*)["'](?:@aws-sdk|@smithy)\//m.test(source);
}
