/** docs/api.md is the rendering of the current route table and OpenAPI document. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_DOCS_PATH, renderApiDocs } from '../../lambdas/api/api-docs.js';
import { ROUTES } from '../../lambdas/api/routes.js';

describe('docs/api.md', () => {
  it('is current (regenerate with: npx tsx lambdas/api/api-docs.ts)', () => {
    expect(readFileSync(API_DOCS_PATH, 'utf8')).toBe(renderApiDocs());
  });

  it('names every route with its permission', () => {
    const docs = renderApiDocs();
    for (const route of ROUTES)
      expect(docs).toContain(`| \`${route.method} ${route.path}\` | ${route.permission} |`);
  });
});
