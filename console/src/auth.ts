/**
 * Sign-in on AWS: OpenID Connect authorization code flow with PKCE (RFC 7636), no client secret, as a
 * public browser client. The access token is kept in sessionStorage (gone with the tab) and sent as
 * the API's bearer token; its `scope` claim says what the caller may do (the API's JWT authorizer
 * checks the same scopes per route, so the console only hides what the API would refuse anyway).
 * In the local cloud there is no sign-in: the console server signs every call as its identity.
 */
import type { OidcSettings } from './config.js';
import type { Identity, Permissions } from './model.js';

const TOKEN_KEY = 'plugboard.token';
const VERIFIER_KEY = 'plugboard.pkce';

interface StoredToken {
  readonly accessToken: string;
  readonly expiresAt: number;
}

interface Endpoints {
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
}

async function discover(issuer: string): Promise<Endpoints> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the OIDC issuer ${issuer} did not answer its discovery document`);
  return (await response.json()) as Endpoints;
}

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const redirectUri = (): string => `${location.origin}${location.pathname}`;

/** The access token of this tab, if signed in and not expired. */
export function currentToken(): string | undefined {
  const raw = sessionStorage.getItem(TOKEN_KEY);
  if (raw === null) return undefined;
  const token = JSON.parse(raw) as StoredToken;
  return token.expiresAt > Date.now() + 10_000 ? token.accessToken : undefined;
}

/** Sends the browser to the issuer's sign-in page (returns to this page with a code). */
export async function signIn(settings: OidcSettings): Promise<never> {
  const endpoints = await discover(settings.issuer);
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(VERIFIER_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(endpoints.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: settings.clientId,
    redirect_uri: redirectUri(),
    scope: ['openid', ...settings.scopes].join(' '),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  }).toString();
  location.assign(url.toString());
  return new Promise<never>(() => {});
}

/** Finishes a sign-in when the issuer sent the browser back with `?code=…&state=…`. */
export async function completeSignIn(settings: OidcSettings): Promise<void> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (code === null) return;
  const saved = JSON.parse(sessionStorage.getItem(VERIFIER_KEY) ?? 'null') as {
    verifier: string;
    state: string;
    hash: string;
  } | null;
  sessionStorage.removeItem(VERIFIER_KEY);
  if (saved === null || saved.state !== params.get('state'))
    throw new Error('the sign-in answer does not belong to this tab: sign in again');
  const endpoints = await discover(settings.issuer);
  const response = await fetch(endpoints.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: settings.clientId,
      code,
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
    }).toString(),
  });
  if (!response.ok) throw new Error(`the issuer refused the sign-in code (HTTP ${response.status})`);
  const body = (await response.json()) as { access_token: string; expires_in?: number };
  const token: StoredToken = {
    accessToken: body.access_token,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
  };
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(token));
  history.replaceState(null, '', `${location.pathname}${saved.hash}`);
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The permissions an access token's scopes give (the API's SCOPES, lambdas/api/routes.ts). */
export function permissionsOfScopes(scopes: readonly string[]): Permissions {
  return {
    read: scopes.some((s) => ['plugboard/read', 'plugboard/start', 'plugboard/operate'].includes(s)),
    start: scopes.includes('plugboard/start') ? '*' : [],
    operate: scopes.includes('plugboard/operate'),
  };
}

/** Who a JWT access token names and what its scopes allow (the claims are not verified here: the API does). */
export function identityOfToken(token: string): Identity {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as {
    sub?: string;
    username?: string;
    email?: string;
    scope?: string;
    scp?: string[];
  };
  const scopes = claims.scp ?? (claims.scope ?? '').split(' ').filter((s) => s !== '');
  return {
    name: claims.email ?? claims.username ?? claims.sub ?? 'signed in',
    permissions: permissionsOfScopes(scopes),
    source: `token scopes: ${scopes.join(' ') || 'none'}`,
  };
}
