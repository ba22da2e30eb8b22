/**
 * The console's only way to the system: the HTTP API (docs/api.md). Every answer that is not a
 * success is an RFC 9457 problem, or API Gateway's `{message}`; both become an {@link ApiError}
 * whose text says what happened and, where the API said so, how to fix it.
 */
import type { PluginList, RunSummary, RunTree, WorkflowList } from './model.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RunQuery {
  readonly state?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly limit?: number | undefined;
  readonly cursor?: string | undefined;
}

export interface OperatorAnswer {
  readonly ok: true;
  readonly action: 'cancel' | 'skip' | 'rerun' | 'retry';
  readonly run: RunSummary;
}

const seg = encodeURIComponent;

export class Api {
  constructor(
    private readonly base: string,
    private readonly token: () => string | undefined,
  ) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base.replace(/\/$/, '')}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new ApiError(
        0,
        `the API did not answer (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const p = (parsed ?? {}) as { title?: string; detail?: string; message?: string; issues?: [] };
      const what = p.detail ?? p.message ?? (text.slice(0, 200) || response.statusText);
      throw new ApiError(response.status, `${p.title ? `${p.title}: ` : ''}${what}`, p.issues ?? []);
    }
    return parsed as T;
  }

  workflows(): Promise<WorkflowList> {
    return this.call('GET', '/workflows');
  }

  plugins(): Promise<PluginList> {
    return this.call('GET', '/plugins');
  }

  runs(workflow: string, query: RunQuery): Promise<{ runs: RunSummary[]; nextCursor?: string }> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') params.set(key, String(value));
    }
    const q = params.toString();
    return this.call('GET', `/workflows/${seg(workflow)}/runs${q ? `?${q}` : ''}`);
  }

  run(workflow: string, uid: string): Promise<RunTree> {
    return this.call('GET', `/workflows/${seg(workflow)}/runs/${seg(uid)}`);
  }

  start(workflow: string, uid: string, metadata: Record<string, unknown>): Promise<RunSummary> {
    return this.call('POST', `/workflows/${seg(workflow)}/runs`, { uid, metadata });
  }

  cancel(workflow: string, uid: string, reason?: string): Promise<OperatorAnswer> {
    return this.call('POST', `/workflows/${seg(workflow)}/runs/${seg(uid)}/cancel`, reason ? { reason } : {});
  }

  rerun(workflow: string, uid: string): Promise<OperatorAnswer> {
    return this.call('POST', `/workflows/${seg(workflow)}/runs/${seg(uid)}/rerun`, {});
  }

  retry(workflow: string, uid: string): Promise<OperatorAnswer> {
    return this.call('POST', `/workflows/${seg(workflow)}/runs/${seg(uid)}/retry`);
  }

  skip(
    workflow: string,
    uid: string,
    activity: string,
    stage: string,
    plugin: string,
  ): Promise<OperatorAnswer> {
    return this.call(
      'POST',
      `/workflows/${seg(workflow)}/runs/${seg(uid)}/plugins/${seg(activity)}/${seg(stage)}/${seg(plugin)}/skip`,
    );
  }
}
