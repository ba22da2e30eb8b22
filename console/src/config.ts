/**
 * The console's deployment settings, read at start from `config.json` next to index.html: the same
 * bundle runs in the local cloud (served with no sign-in by local/console-server.ts) and on AWS
 * (config written by the ConsoleHosting construct, OIDC sign-in). Checked by hand here (the bundle
 * carries no validation library); a wrong file stops the console with a message naming the field.
 */
export interface OidcSettings {
  readonly kind: 'oidc';
  /** The issuer (its `/.well-known/openid-configuration` names the endpoints). */
  readonly issuer: string;
  readonly clientId: string;
  /** Scopes to ask for, besides `openid`: the API's (`plugboard/read` …). */
  readonly scopes: readonly string[];
}

export interface LocalSettings {
  readonly kind: 'local';
  /** Answers the identity the console server signs as and what it may do. */
  readonly identityUrl: string;
}

export interface ConsoleConfig {
  /** Where the API is, relative to the console or absolute (`/api` behind the same origin). */
  readonly apiBase: string;
  readonly auth: OidcSettings | LocalSettings;
  /** Links to CloudWatch Logs (AWS only): the region and the orchestrator's log groups. */
  readonly logs?: { readonly region: string; readonly logGroups: readonly string[] };
  /** How often the console asks again while something is in progress. @default 2000 */
  readonly pollMs?: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseConfig(value: unknown): ConsoleConfig {
  const problems: string[] = [];
  if (!isRecord(value)) throw new ConfigError('config.json is not a JSON object');
  if (typeof value.apiBase !== 'string' || value.apiBase === '')
    problems.push('apiBase must be a URL or path');
  const auth = value.auth;
  if (!isRecord(auth)) problems.push('auth must be an object with kind "oidc" or "local"');
  else if (auth.kind === 'oidc') {
    if (typeof auth.issuer !== 'string' || !auth.issuer.startsWith('https://'))
      problems.push('auth.issuer must be the https:// URL of the OIDC issuer');
    if (typeof auth.clientId !== 'string' || auth.clientId === '') problems.push('auth.clientId is missing');
    if (!Array.isArray(auth.scopes)) problems.push('auth.scopes must be a list of scopes');
  } else if (auth.kind === 'local') {
    if (typeof auth.identityUrl !== 'string') problems.push('auth.identityUrl is missing');
  } else problems.push(`auth.kind is ${JSON.stringify(auth.kind)}; use "oidc" or "local"`);
  if (value.pollMs !== undefined && (typeof value.pollMs !== 'number' || value.pollMs < 500))
    problems.push('pollMs must be a number of milliseconds ≥ 500');
  if (problems.length > 0) throw new ConfigError(`config.json: ${problems.join('; ')}`);
  return value as unknown as ConsoleConfig;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new ConfigError(`config.json could not be read (HTTP ${response.status})`);
  return parseConfig(await response.json());
}
