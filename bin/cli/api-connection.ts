/**
 * Which HTTP API the CLI talks to, and as whom, from the global options:
 *
 * - the URL: `--api <url>` or `PLUGBOARD_API_URL`; with `--local`, `--api` alone means the local
 *   cloud's API (the `apiUrl` of its state file, written by `npm start -- --keep`);
 * - the caller: `--token <jwt>` or `PLUGBOARD_API_TOKEN` sends a bearer token (an API deployed with
 *   the JWT authorizer); otherwise requests are SigV4-signed with the AWS credentials of the default
 *   chain, for the region the URL names (else `--region`, `AWS_REGION`, the local cloud's region).
 *   Against the local cloud without credentials in the environment, its admin keys are used.
 */
import { ApiClient, defaultCredentials, parseApiUrl, regionOfApiUrl } from './api-client.js';
import type { GlobalOptions } from './deployment.js';
import { DeploymentError, UsageError } from './errors.js';
import { loadLocalState } from './local-state.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The local cloud's admin keys (local/cloud.ts), which may call every route of its API. */
const LOCAL_ADMIN_KEYS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

/** Whether the options ask for the API (`--api`, with or without a URL). */
export function wantsApi(options: Pick<GlobalOptions, 'api'>): boolean {
  return options.api !== undefined && options.api !== false;
}

export async function resolveApiClient(options: GlobalOptions, env: Env = process.env): Promise<ApiClient> {
  const local = options.local === true || Boolean(env.AWS_ENDPOINT_URL);
  let url: string;
  let localRegion: string | undefined;
  if (typeof options.api === 'string' && options.api !== '') {
    url = options.api;
  } else if (local) {
    const state = await loadLocalState(env);
    if (state.apiUrl === undefined) {
      throw new DeploymentError(
        'The local cloud did not write an API URL (apiUrl in its state file): is the API stack deployed? Start it with `npm start -- --keep`, or pass --api <url>.',
      );
    }
    url = state.apiUrl;
    localRegion = state.region;
  } else {
    throw new UsageError(
      '--api needs the API base URL (--api https://<id>.execute-api.<region>.amazonaws.com, the <system>-<stage>-api-url export), or --local for the local cloud.',
    );
  }
  const parsed = parseApiUrl(url);
  // The managed policies' export names in a refusal's hint, when the deployment was named.
  const deploymentPrefix =
    options.explicit?.stage || options.explicit?.system ? `${options.system}-${options.stage}` : undefined;
  const token = options.token ?? env.PLUGBOARD_API_TOKEN;
  if (token !== undefined && token !== '') {
    return new ApiClient({
      url,
      ...(deploymentPrefix ? { deploymentPrefix } : {}),
      auth: { kind: 'bearer', token },
    });
  }
  if (local && localRegion === undefined) {
    localRegion = (await loadLocalState(env).catch(() => undefined))?.region;
  }
  const region =
    regionOfApiUrl(parsed) ?? options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? localRegion;
  if (region === undefined) {
    throw new UsageError(
      `No region to sign requests to ${parsed.origin} for: pass --region <region> or set AWS_REGION (the region the API is deployed in).`,
    );
  }
  const fromEnv =
    env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_ACCESS_KEY_ID !== '' && env.AWS_SECRET_ACCESS_KEY
      ? undefined
      : LOCAL_ADMIN_KEYS;
  const credentials = local && fromEnv !== undefined ? fromEnv : defaultCredentials(region);
  return new ApiClient({
    url,
    ...(deploymentPrefix ? { deploymentPrefix } : {}),
    auth: { kind: 'sigv4', region, credentials },
  });
}
