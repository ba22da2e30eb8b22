/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table (routes.ts) and the zod
 * schemas the handlers validate with (schemas.ts) through `z.toJSONSchema`: what the document says
 * a route accepts is what the route accepts. Each operation names the permission and the JWT scope
 * it needs. `docs/api.md` is rendered from this document (test/cdk/api-docs.test.ts checks it is
 * current; `npx tsx lambdas/api/render-docs.ts` rewrites it).
 */
import { z } from 'zod';
import { pluginName, resourceName, STAGE_NAMES } from '../contracts/index.js';
import { inputJsonSchema, type WorkflowInputs } from './inputs.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';
import { type Permission, ROUTES, type Route, type RouteId, SCOPES } from './routes.js';
import {
  cancelBodySchema,
  healthSchema,
  inputFieldSchema,
  listQuerySchema,
  operatorResultSchema,
  pluginListSchema,
  pluginViewSchema,
  problemSchema,
  rerunBodySchema,
  runPageSchema,
  runSummarySchema,
  runTreeSchema,
  stageViewSchema,
  startBodySchema,
  uidParam,
  workflowListSchema,
  workflowParam,
} from './schemas.js';

export const API_VERSION = '1.0.0';

/** The IAM action and what each permission's managed policy grants, for the document and the docs. */
export const PERMISSION_TEXT: Readonly<Record<Permission, string>> = {
  read: 'reader policy (or starter/operator), execute-api:Invoke',
  start: 'starter policy (all workflows, or the per-workflow one), execute-api:Invoke',
  operate: 'operator policy, execute-api:Invoke',
};

const REQUEST_BODIES: Partial<Record<RouteId, { schema: z.ZodType; id: string; required: boolean }>> = {
  startRun: { schema: startBodySchema, id: 'StartRequest', required: true },
  rerunRun: { schema: rerunBodySchema, id: 'RerunRequest', required: false },
  cancelRun: { schema: cancelBodySchema, id: 'CancelRequest', required: false },
};

const RESPONSES: Record<RouteId, { status: number; id: string; description: string }[]> = {
  startRun: [
    { status: 201, id: 'RunSummary', description: 'Started; Location names the run' },
    { status: 200, id: 'RunSummary', description: 'The same start again: the existing run' },
  ],
  listRuns: [{ status: 200, id: 'RunPage', description: 'A page of runs, newest first' }],
  getRun: [{ status: 200, id: 'RunTree', description: 'The run and its status tree' }],
  rerunRun: [{ status: 200, id: 'OperatorResult', description: 'Rerun as a new generation' }],
  retryRun: [{ status: 200, id: 'OperatorResult', description: 'Rerun; failed plugins run again' }],
  cancelRun: [{ status: 200, id: 'OperatorResult', description: 'Cancelled' }],
  skipPlugin: [{ status: 200, id: 'OperatorResult', description: 'The plugin is Do Not Run' }],
  listWorkflows: [{ status: 200, id: 'WorkflowList', description: 'The declared workflows' }],
  listPlugins: [{ status: 200, id: 'PluginList', description: 'The registered plugins' }],
  health: [{ status: 200, id: 'Health', description: 'The API answers' }],
  openapi: [{ status: 200, id: 'OpenApi', description: 'This document' }],
};

/** The problems each route may answer besides 401/403 (API Gateway's authorizers). */
const PROBLEMS: Record<RouteId, number[]> = {
  startRun: [400, 404, 409, 413, 415],
  listRuns: [400, 404],
  getRun: [400, 404],
  rerunRun: [400, 404, 409, 413, 415],
  retryRun: [404, 409],
  cancelRun: [400, 404, 409, 413, 415],
  skipPlugin: [400, 404, 409],
  listWorkflows: [],
  listPlugins: [],
  health: [],
  openapi: [],
};

const PATH_PARAMETERS: Readonly<Record<string, z.ZodType>> = {
  workflow: workflowParam,
  uid: uidParam,
  activity: resourceName,
  stage: z.enum(STAGE_NAMES),
  plugin: pluginName,
};

function clean(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function componentSchemas(
  entries: readonly [string, z.ZodType][],
  io: 'input' | 'output',
): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of entries) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => [id, clean(schema as Record<string, unknown>)]),
  );
}

function parameterSchema(schema: z.ZodType): Record<string, unknown> {
  return clean(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>);
}

function operation(route: Route): Record<string, unknown> {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
  const parameters: Record<string, unknown>[] = names.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: parameterSchema(PATH_PARAMETERS[name] ?? z.string()),
  }));
  if (route.id === 'listRuns') {
    for (const [name, schema] of Object.entries(listQuerySchema.shape)) {
      parameters.push({
        name,
        in: 'query',
        required: false,
        schema: parameterSchema(schema as z.ZodType),
        ...(schema.description !== undefined ? { description: schema.description } : {}),
      });
    }
  }
  const body = REQUEST_BODIES[route.id];
  const responses: Record<string, unknown> = {};
  for (const answer of RESPONSES[route.id]) {
    responses[String(answer.status)] = {
      description: answer.description,
      ...(route.id === 'startRun'
        ? { headers: { Location: { schema: { type: 'string' }, description: 'The run' } } }
        : {}),
      content: {
        'application/json': {
          schema:
            answer.id === 'OpenApi' ? { type: 'object' } : { $ref: `#/components/schemas/${answer.id}` },
        },
      },
    };
  }
  for (const status of [...PROBLEMS[route.id], 401, 403, 404, 405, 500]) {
    responses[String(status)] ??= {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'A problem',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return {
    operationId: route.id,
    summary: route.summary,
    description: `Needs the ${route.permission} permission: ${PERMISSION_TEXT[route.permission]}; with the JWT authorizer, the scope ${SCOPES[route.permission]}.`,
    'x-plugboard-permission': route.permission,
    security: [{ sigv4: [] }, { jwt: [SCOPES[route.permission]] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body !== undefined
      ? {
          requestBody: {
            required: body.required,
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${body.id}` } } },
          },
        }
      : {}),
    responses,
  };
}

const PROBLEM_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid request: every problem is listed in issues',
  401: 'Not signed (SigV4) or no valid token (JWT)',
  403: 'The caller lacks the permission (or scope)',
  404: 'Unknown route, workflow (the known ones are named) or run',
  405: 'The path does not answer this method (Allow names the ones it does)',
  409: 'Conflicts with the run as it is (different metadata, not finished, already final)',
  413: 'The body is too large (checked before parsing)',
  415: 'The body is not JSON',
  500: 'Failed inside the API (the detail names the request id)',
};

/** The document. Declared workflow inputs appear as `StartRequest_<workflow>` schemas. */
export function openApiDocument(options: { readonly inputs?: WorkflowInputs } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route);
  }
  const inputs = Object.fromEntries(
    Object.entries(options.inputs ?? {}).map(([workflow, input]) => [
      `StartRequest_${workflow}`,
      {
        description: `The start request of ${workflow}: metadata as its declared input says`,
        allOf: [
          { $ref: '#/components/schemas/StartRequest' },
          { type: 'object', properties: { metadata: inputJsonSchema(input) } },
        ],
      },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Plugboard API',
      version: API_VERSION,
      description:
        'Start, follow and operate Plugboard workflow runs. Every error is application/problem+json (RFC 9457).',
    },
    paths,
    components: {
      schemas: {
        ...componentSchemas(
          [
            ['StartRequest', startBodySchema],
            ['RerunRequest', rerunBodySchema],
            ['CancelRequest', cancelBodySchema],
          ],
          'input',
        ),
        ...componentSchemas(
          [
            ['RunSummary', runSummarySchema],
            ['RunTree', runTreeSchema],
            ['StageView', stageViewSchema],
            ['PluginView', pluginViewSchema],
            ['InputField', inputFieldSchema],
            ['RunPage', runPageSchema],
            ['OperatorResult', operatorResultSchema],
            ['WorkflowList', workflowListSchema],
            ['PluginList', pluginListSchema],
            ['Health', healthSchema],
            ['Problem', problemSchema],
          ],
          'output',
        ),
        ...inputs,
      },
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS Signature Version 4 (service execute-api); IAM decides per route',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'When the JWT authorizer is configured (context apiJwtIssuer and apiJwtAudience)',
        },
      },
    },
  };
}
