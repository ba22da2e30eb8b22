/**
 * The API's routes as data: the router matches requests with it, the CDK stack creates one API
 * Gateway route per entry with the entry's authorization, the managed policies grant the entries of
 * each permission, and the OpenAPI document describes them. One table, so a route cannot exist in one
 * of those places and not in the others.
 */

export type HttpMethod = 'GET' | 'POST';

/**
 * Environment variable of the API function with the start function's name (set by the API stack).
 * Here rather than in handler.ts, so the CDK app does not load the handler's SDK clients.
 */
export const START_FUNCTION_ENV = 'PLUGBOARD_START_FUNCTION_NAME';

/**
 * What a caller must hold for a route. `read`: look at runs, workflows and plugins; `start`: start
 * runs (optionally of one workflow); `operate`: rerun, retry, cancel and skip.
 */
export type Permission = 'read' | 'start' | 'operate';

/** The OAuth scope a JWT must carry for each permission (when the JWT authorizer is on). */
export const SCOPES: Readonly<Record<Permission, string>> = {
  read: 'plugboard/read',
  start: 'plugboard/start',
  operate: 'plugboard/operate',
};

export type RouteId =
  | 'startRun'
  | 'listRuns'
  | 'getRun'
  | 'rerunRun'
  | 'retryRun'
  | 'cancelRun'
  | 'skipPlugin'
  | 'listWorkflows'
  | 'listPlugins'
  | 'health'
  | 'openapi';

export interface Route {
  readonly id: RouteId;
  readonly method: HttpMethod;
  /** API Gateway's route path syntax: `{name}` is one path segment. */
  readonly path: string;
  readonly permission: Permission;
  readonly summary: string;
  /** Whether the route takes a JSON body (then `Content-Type: application/json` is required). */
  readonly body: 'required' | 'optional' | 'none';
}

export const ROUTES: readonly Route[] = [
  {
    id: 'startRun',
    method: 'POST',
    path: '/workflows/{workflow}/runs',
    permission: 'start',
    summary: 'Start a run (idempotent by uid)',
    body: 'required',
  },
  {
    id: 'listRuns',
    method: 'GET',
    path: '/workflows/{workflow}/runs',
    permission: 'read',
    summary: 'A page of runs, newest first',
    body: 'none',
  },
  {
    id: 'getRun',
    method: 'GET',
    path: '/workflows/{workflow}/runs/{uid}',
    permission: 'read',
    summary: 'A run with its status tree and per-state times',
    body: 'none',
  },
  {
    id: 'rerunRun',
    method: 'POST',
    path: '/workflows/{workflow}/runs/{uid}/rerun',
    permission: 'operate',
    summary: 'Rerun a finished run as a new generation (completed plugins are kept)',
    body: 'optional',
  },
  {
    id: 'retryRun',
    method: 'POST',
    path: '/workflows/{workflow}/runs/{uid}/retry',
    permission: 'operate',
    summary: 'Run the failed, timed-out and unreached plugins of a failed or cancelled run again',
    body: 'none',
  },
  {
    id: 'cancelRun',
    method: 'POST',
    path: '/workflows/{workflow}/runs/{uid}/cancel',
    permission: 'operate',
    summary: 'Cancel a run in progress',
    body: 'optional',
  },
  {
    id: 'skipPlugin',
    method: 'POST',
    path: '/workflows/{workflow}/runs/{uid}/plugins/{activity}/{stage}/{plugin}/skip',
    permission: 'operate',
    summary: 'Mark a plugin that has not started Do Not Run for the current generation',
    body: 'none',
  },
  {
    id: 'listWorkflows',
    method: 'GET',
    path: '/workflows',
    permission: 'read',
    summary: 'The declared workflows, their activities and inputs',
    body: 'none',
  },
  {
    id: 'listPlugins',
    method: 'GET',
    path: '/plugins',
    permission: 'read',
    summary: 'The plugin registry with liveness',
    body: 'none',
  },
  {
    id: 'health',
    method: 'GET',
    path: '/health',
    permission: 'read',
    summary: 'Whether the API answers',
    body: 'none',
  },
  {
    id: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    permission: 'read',
    summary: 'This OpenAPI 3.1 document',
    body: 'none',
  },
];

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method'; readonly allowed: readonly HttpMethod[] }
  | { readonly kind: 'none' };

function matchPath(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const part = want[i] ?? '';
    const value = got[i] ?? '';
    if (part.startsWith('{') && part.endsWith('}')) {
      if (value === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(value);
      } catch {
        return undefined;
      }
      params[part.slice(1, -1)] = decoded;
    } else if (part !== value) {
      return undefined;
    }
  }
  return params;
}

/** The route of a request, or the methods its path allows (405), or nothing (404). */
export function matchRoute(method: string, rawPath: string): RouteMatch {
  const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
  const allowed: HttpMethod[] = [];
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (params === undefined) continue;
    if (route.method === method.toUpperCase()) return { kind: 'route', route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
}

/** API Gateway's route key of a route (`POST /workflows/{workflow}/runs`). */
export const routeKey = (route: Route): string => `${route.method} ${route.path}`;
