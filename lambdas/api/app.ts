/**
 * The HTTP API's request handling, free of AWS wiring (handler.ts wires it): matches the route of an
 * API Gateway payload 2.0 event, checks the body's size before parsing it and its content type,
 * validates with the schemas of schemas.ts, calls the engine's ports and shapes the answer. Every
 * refusal is an RFC 9457 problem. Starts go through the start function (the start path every other
 * entry point uses); operator actions are the engine's operator functions, as the CLI calls them.
 */
import { isDeepStrictEqual } from 'node:util';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { isFinalRunState, STAGE_NAMES, STATES } from '../contracts/index.js';
import type { EngineConfig } from '../engine/config.js';
import type { EngineDeps } from '../engine/deps.js';
import { UnknownRunError, ValidationError } from '../engine/errors.js';
import { cancelRun, skipPlugin } from '../engine/operator.js';
import type { RunRecord } from '../engine/records.js';
import type { StartResponse } from '../handlers/start.js';
import { describeInputs, inputIssues, type WorkflowInputs } from './inputs.js';
import { openApiDocument } from './openapi.js';
import { ApiProblem, invalidRequest, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';
import { matchRoute, type Route, type RouteId } from './routes.js';
import type { RunListing } from './run-listing.js';
import { runSummary, runTree } from './run-view.js';
import {
  cancelBodySchema,
  DEFAULT_PAGE_SIZE,
  listQuerySchema,
  MAX_BODY_BYTES,
  pluginPathSchema,
  rerunBodySchema,
  startBodySchema,
  uidParam,
  workflowParam,
} from './schemas.js';

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** What the API asks the start function for (its direct-invocation request). */
export interface StartInvocation {
  readonly workflow: string;
  readonly uid: string;
  readonly metadata: Record<string, unknown>;
  readonly rerun?: boolean;
  readonly metadataOverride?: boolean;
}

export interface PluginHealthAnswer {
  readonly liveness: 'live' | 'inactive' | 'offline' | 'idle';
  readonly lastSeen?: Date;
}

export interface ApiDeps {
  readonly store: EngineDeps['store'];
  readonly runs: RunListing;
  /** Invokes the start function synchronously. */
  readonly start: (request: StartInvocation) => Promise<StartResponse>;
  readonly registry: EngineDeps['registry'];
  readonly events: EngineDeps['events'];
  readonly commands: EngineDeps['commands'];
  readonly clock: EngineDeps['clock'];
  readonly config: Pick<EngineConfig, 'workflows' | 'activities'>;
  /** Declared inputs per workflow (shown by `GET /workflows` and checked by the start function). */
  readonly inputs?: WorkflowInputs;
  /** Liveness of registered plugins, `[i]` for `plugins[i]`; absent or failing means `unknown`. */
  readonly liveness?: (
    plugins: readonly { activity: string; stage: string; plugin: string; filtered: boolean }[],
    now: Date,
  ) => Promise<readonly PluginHealthAnswer[]>;
  readonly deploymentStage: string;
  /** One line per request (method, route, status, duration), never bodies. */
  readonly log?: (entry: Readonly<Record<string, unknown>>) => void;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

function json(status: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function problemResult(problem: ApiProblem, instance: string): ApiResult {
  return {
    statusCode: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers },
    body: JSON.stringify(problem.toProblem(instance)),
  };
}

/** Zod issues as `{path, message}` (the path dotted, `(root)` for the whole value). */
function issuesOf(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return { path: prefix + (path === '' ? '(root)' : path), message: issue.message };
  });
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(what, issuesOf(parsed.error, prefix));
  return parsed.data;
}

/**
 * The JSON body of a request: its size is checked before it is decoded or parsed (413), its type
 * must be JSON (415), and it must parse (400). `undefined` when there is none and none is required.
 */
export function readJsonBody(event: ApiEvent, route: Route): unknown {
  if (route.body === 'none') return undefined;
  const raw = event.body ?? '';
  const size = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (size > MAX_BODY_BYTES) {
    throw new ApiProblem(
      413,
      PROBLEM_TYPES.tooLarge,
      `The body is about ${size} bytes; at most ${MAX_BODY_BYTES} are accepted (metadata itself may be 32 KiB of JSON). Store large documents elsewhere (e.g. S3) and pass a reference.`,
    );
  }
  if (raw === '') {
    if (route.body === 'required') {
      throw new ApiProblem(
        400,
        PROBLEM_TYPES.badRequest,
        'The request has no body; send a JSON object with Content-Type: application/json.',
      );
    }
    return undefined;
  }
  const contentType = event.headers?.['content-type'] ?? '';
  if (!JSON_TYPE.test(contentType)) {
    throw new ApiProblem(
      415,
      PROBLEM_TYPES.unsupportedMediaType,
      `The body is sent as ${contentType === '' ? 'no Content-Type' : `"${contentType}"`}; send JSON with Content-Type: application/json.`,
    );
  }
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiProblem(
      400,
      PROBLEM_TYPES.badRequest,
      `The body is not valid JSON (${error instanceof Error ? error.message : String(error)}); send one JSON object.`,
    );
  }
}

/** A start function refusal as a problem. */
function startRefusal(error: Extract<StartResponse, { ok: false }>['error']): ApiProblem {
  switch (error.type) {
    case 'UnknownWorkflowError':
      return new ApiProblem(404, PROBLEM_TYPES.unknownWorkflow, error.message);
    case 'MetadataMismatchError':
      return new ApiProblem(409, PROBLEM_TYPES.conflict, error.message);
    case 'ValidationError':
      return new ApiProblem(400, PROBLEM_TYPES.invalidBody, error.message);
    default:
      return error.retryable
        ? new ApiProblem(
            503,
            PROBLEM_TYPES.unavailable,
            `${error.message} Try again.`,
            {},
            { 'retry-after': '1' },
          )
        : new ApiProblem(400, PROBLEM_TYPES.badRequest, error.message);
  }
}

/** Engine refusals of operator actions as problems; anything else is rethrown. */
function operatorRefusal(error: unknown): never {
  if (error instanceof UnknownRunError) throw new ApiProblem(404, PROBLEM_TYPES.unknownRun, error.message);
  if (error instanceof ValidationError) throw new ApiProblem(409, PROBLEM_TYPES.conflict, error.message);
  throw error;
}

export function createApiHandler(deps: ApiDeps): (event: ApiEvent) => Promise<ApiResult> {
  const knownWorkflows = () => Object.keys(deps.config.workflows).sort();

  function workflowOf(params: Readonly<Record<string, string>>): string {
    const workflow = params.workflow ?? '';
    const parsed = workflowParam.safeParse(workflow);
    if (!parsed.success || deps.config.workflows[workflow] === undefined) {
      const known = knownWorkflows();
      throw new ApiProblem(
        404,
        PROBLEM_TYPES.unknownWorkflow,
        `Unknown workflow "${workflow.slice(0, 64)}". Known workflows: ${known.length > 0 ? known.join(', ') : '(none)'}. Declare it in plugboard.config.ts and deploy.`,
        { knownWorkflows: known },
      );
    }
    return workflow;
  }

  function uidOf(params: Readonly<Record<string, string>>): string {
    return parseWith(uidParam, params.uid ?? '', 'path', 'uid');
  }

  async function existingRun(workflow: string, uid: string): Promise<RunRecord> {
    const run = await deps.store.getRun({ workflow, uid });
    if (run === undefined) {
      throw new ApiProblem(
        404,
        PROBLEM_TYPES.unknownRun,
        `No run "${uid}" of workflow "${workflow}". Start it with POST /workflows/${workflow}/runs.`,
      );
    }
    return run;
  }

  async function start(request: StartInvocation): Promise<Extract<StartResponse, { ok: true }>> {
    const answer = await deps.start(request);
    if (!answer.ok) throw startRefusal(answer.error);
    return answer;
  }

  async function rerun(
    workflow: string,
    uid: string,
    action: 'rerun' | 'retry',
    options: { metadata?: Record<string, unknown>; metadataOverride?: boolean },
  ): Promise<ApiResult> {
    const answer = await start({
      workflow,
      uid,
      metadata: options.metadata ?? {},
      rerun: true,
      ...(options.metadataOverride ? { metadataOverride: true } : {}),
    });
    if (answer.outcome !== 'rerun') {
      throw new ApiProblem(
        409,
        PROBLEM_TYPES.conflict,
        `Run "${uid}" is ${answer.run.state} (generation ${answer.run.generation}); it was not rerun. A run in progress cannot be rerun: cancel it first, or wait for it to finish.`,
      );
    }
    return json(200, { ok: true, action, run: runSummary(await existingRun(workflow, uid)) });
  }

  const handlers: Record<
    RouteId,
    (event: ApiEvent, params: Readonly<Record<string, string>>, route: Route) => Promise<ApiResult>
  > = {
    async startRun(event, params, route) {
      const workflow = workflowOf(params);
      const body = parseWith(startBodySchema, readJsonBody(event, route), 'start request');
      const input = deps.inputs?.[workflow];
      const bad = input !== undefined ? inputIssues(input, body.metadata) : [];
      if (bad.length > 0) throw invalidRequest(`start request (the declared input of ${workflow})`, bad);
      const answer = await start({ workflow, uid: body.uid, metadata: body.metadata });
      const run = await existingRun(workflow, body.uid);
      const location = `/workflows/${workflow}/runs/${encodeURIComponent(body.uid)}`;
      if (answer.outcome === 'started') return json(201, runSummary(run), { location });
      if (!isDeepStrictEqual(run.metadata, body.metadata)) {
        throw new ApiProblem(
          409,
          PROBLEM_TYPES.conflict,
          `Run "${body.uid}" of "${workflow}" exists with different metadata. Send the same metadata to get it, choose another uid, or rerun it with POST ${location}/rerun and metadataOverride.`,
          { run: location },
        );
      }
      return json(200, runSummary(run), { location });
    },

    async listRuns(event, params) {
      const workflow = workflowOf(params);
      const query = parseWith(listQuerySchema, { ...event.queryStringParameters }, 'query', '');
      const page = await deps.runs.list({
        workflow,
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        ...(query.state !== undefined ? { state: query.state } : {}),
        ...(query.since !== undefined ? { since: query.since } : {}),
        ...(query.until !== undefined ? { until: query.until } : {}),
        ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        runs: page.runs.map(runSummary),
        ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
      });
    },

    async getRun(_event, params) {
      const workflow = workflowOf(params);
      const uid = uidOf(params);
      const snapshot = await deps.store.readRun({ workflow, uid });
      if (snapshot === undefined) {
        await existingRun(workflow, uid); // the 404 that names how to start it
        throw new ApiProblem(
          409,
          PROBLEM_TYPES.conflict,
          `Run "${uid}" changed while it was read; read it again.`,
        );
      }
      return json(200, runTree(snapshot));
    },

    async rerunRun(event, params, route) {
      const workflow = workflowOf(params);
      const uid = uidOf(params);
      const body = parseWith(rerunBodySchema, readJsonBody(event, route) ?? {}, 'rerun request');
      const run = await existingRun(workflow, uid);
      if (!isFinalRunState(run.state)) {
        throw new ApiProblem(
          409,
          PROBLEM_TYPES.conflict,
          `Run "${uid}" is ${run.state}; only a finished run can be rerun. Cancel it first, or wait for it to finish.`,
        );
      }
      return rerun(workflow, uid, 'rerun', {
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        metadataOverride: body.metadataOverride,
      });
    },

    async retryRun(_event, params) {
      const workflow = workflowOf(params);
      const uid = uidOf(params);
      const run = await existingRun(workflow, uid);
      if (run.state === STATES.inProgress || run.state === STATES.complete) {
        throw new ApiProblem(
          409,
          PROBLEM_TYPES.conflict,
          run.state === STATES.complete
            ? `Run "${uid}" is Complete; nothing failed, so there is nothing to retry.`
            : `Run "${uid}" is still In Progress; nothing to retry yet. Cancel it first, or let its retries play out.`,
        );
      }
      return rerun(workflow, uid, 'retry', {});
    },

    async cancelRun(event, params, route) {
      const workflow = workflowOf(params);
      const uid = uidOf(params);
      const body = parseWith(cancelBodySchema, readJsonBody(event, route) ?? {}, 'cancel request');
      try {
        const run = await cancelRun(deps, { workflow, uid }, body.reason);
        return json(200, { ok: true, action: 'cancel', run: runSummary(run) });
      } catch (error) {
        return operatorRefusal(error);
      }
    },

    async skipPlugin(_event, params) {
      const workflow = workflowOf(params);
      const key = parseWith(pluginPathSchema, { ...params, workflow }, 'path');
      try {
        await skipPlugin({ ...deps, config: { activities: deps.config.activities } }, key);
      } catch (error) {
        return operatorRefusal(error);
      }
      return json(200, { ok: true, action: 'skip', run: runSummary(await existingRun(workflow, key.uid)) });
    },

    async listWorkflows() {
      return json(200, {
        workflows: knownWorkflows().map((name) => {
          const input = deps.inputs?.[name];
          return {
            name,
            activities: [...(deps.config.workflows[name] ?? [])],
            ...(input !== undefined ? { input: describeInputs(input) } : {}),
          };
        }),
      });
    },

    async listPlugins() {
      const activities = [...new Set(Object.values(deps.config.workflows).flat())].sort();
      const registrations = (
        await Promise.all(
          activities.flatMap((activity) => STAGE_NAMES.map((stage) => deps.registry.list(activity, stage))),
        )
      ).flat();
      const keys = registrations.map((r) => ({
        activity: r.activity,
        stage: r.stage,
        plugin: r.info.name,
        filtered: Object.keys(r.filterPolicy ?? {}).length > 0,
      }));
      let health: readonly (PluginHealthAnswer | undefined)[] = [];
      try {
        health = deps.liveness ? await deps.liveness(keys, deps.clock.now()) : [];
      } catch (error) {
        deps.log?.({ message: 'plugin liveness unavailable', error: String(error) });
      }
      return json(200, {
        plugins: registrations.map((r, i) => {
          const h = health[i];
          return {
            activity: r.activity,
            stage: r.stage,
            plugin: r.info.name,
            order: r.info.order,
            mandatory: r.info.overrides?.[r.activity]?.mandatory ?? r.info.default.mandatory,
            liveness: h?.liveness ?? 'unknown',
            ...(h?.lastSeen !== undefined ? { lastSeen: h.lastSeen.toISOString() } : {}),
          };
        }),
      });
    },

    async health() {
      return json(200, {
        status: 'ok',
        time: deps.clock.now().toISOString(),
        deploymentStage: deps.deploymentStage,
      });
    },

    async openapi() {
      return json(200, openApiDocument({ inputs: deps.inputs ?? {} }));
    },
  };

  return async (event) => {
    const began = Date.now();
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '/';
    let result: ApiResult;
    let routeName = 'none';
    try {
      const match = matchRoute(method, path);
      if (match.kind === 'none') {
        throw new ApiProblem(
          404,
          PROBLEM_TYPES.notFound,
          `No route ${method} ${path.slice(0, 200)}. The routes are listed in GET /openapi.json.`,
        );
      }
      if (match.kind === 'method') {
        throw new ApiProblem(
          405,
          PROBLEM_TYPES.methodNotAllowed,
          `${path.slice(0, 200)} does not answer ${method}; it answers ${match.allowed.join(', ')}.`,
          { allowed: match.allowed },
          { allow: match.allowed.join(', ') },
        );
      }
      routeName = match.route.id;
      result = await handlers[match.route.id](event, match.params, match.route);
    } catch (error) {
      if (error instanceof ApiProblem) {
        result = problemResult(error, path.slice(0, 200));
      } else {
        deps.log?.({
          message: 'request failed',
          route: routeName,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        result = problemResult(
          new ApiProblem(
            500,
            PROBLEM_TYPES.internal,
            `The request failed inside the API (request id ${event.requestContext?.requestId ?? 'unknown'}); the function logs have the cause. Try again; if it persists, report the request id.`,
          ),
          path.slice(0, 200),
        );
      }
    }
    deps.log?.({
      message: 'request',
      method,
      route: routeName,
      status: result.statusCode,
      ms: Date.now() - began,
    });
    return result;
  };
}
