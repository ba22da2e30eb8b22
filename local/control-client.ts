/**
 * The client of a kept local cloud's control endpoint (local/control.ts): what the CLI's
 * `--local credentials`, `--local deploy` and `--local destroy` call. It needs only `fetch` and the
 * protocol's schemas. Every failure is a ControlError whose message says what is wrong and what to do.
 */
import type { z } from 'zod';
import {
  CONTROL_PATHS,
  type DeployRequest,
  deployResponseSchema,
  destroyResponseSchema,
  errorResponseSchema,
  functionsResponseSchema,
  stacksResponseSchema,
} from './control-protocol.js';

/** The control endpoint did not answer, refused the request, or answered something unexpected. */
export class ControlError extends Error {
  constructor(
    message: string,
    /** The server's error type (e.g. `MissingImportError`), or `Unreachable`/`BadAnswer`. */
    readonly type: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(hint === undefined ? message : `${message}. ${hint}`, options);
    this.name = new.target.name;
  }
}

export interface ControlEndpoint {
  readonly url: string;
  readonly token: string;
}

export class ControlClient {
  constructor(
    private readonly endpoint: ControlEndpoint,
    /** How long a request may take (a deploy bundles nothing, but runs custom resources). */
    private readonly timeoutMs = 300_000,
  ) {}

  functions() {
    return this.call(CONTROL_PATHS.functions, 'GET', undefined, functionsResponseSchema);
  }

  stacks() {
    return this.call(CONTROL_PATHS.stacks, 'GET', undefined, stacksResponseSchema);
  }

  deploy(request: DeployRequest) {
    return this.call(CONTROL_PATHS.deploy, 'POST', request, deployResponseSchema);
  }

  destroy(stack: string) {
    return this.call(CONTROL_PATHS.destroy, 'POST', { stack }, destroyResponseSchema);
  }

  private async call<T>(path: string, method: string, body: unknown, schema: z.ZodType<T>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.endpoint.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ControlError(
        `The local cloud's control endpoint ${this.endpoint.url} does not answer (${error instanceof Error ? error.message : String(error)})`,
        'Unreachable',
        'Is the local cloud still running? Start it again with npm start -- --keep',
        { cause: error },
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ControlError(
        `The control endpoint answered HTTP ${response.status} with something that is not JSON`,
        'BadAnswer',
        'Is PLUGBOARD_LOCAL_STATE pointing at the state file of this local cloud?',
      );
    }
    if (!response.ok) {
      const failure = errorResponseSchema.safeParse(json);
      if (failure.success) {
        throw new ControlError(failure.data.error.message, failure.data.error.type, failure.data.error.hint);
      }
      throw new ControlError(`The control endpoint answered HTTP ${response.status}`, 'BadAnswer');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ControlError(
        `The control endpoint's answer to ${path} is not what this CLI expects (${parsed.error.issues[0]?.message ?? 'invalid'})`,
        'BadAnswer',
        'Restart the local cloud with this version of Plugboard (npm start -- --keep)',
      );
    }
    return parsed.data;
  }
}
