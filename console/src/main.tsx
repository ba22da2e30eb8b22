/**
 * The Plugboard console: a static single-page app, a client of the HTTP API and nothing else.
 * Reads config.json, signs in where the deployment asks for it (OIDC with PKCE on AWS, nobody in
 * the local cloud), learns what the caller may do, and routes by the URL's hash:
 * `#/runs`, `#/runs/<workflow>/<uid>`, `#/workflows`, `#/plugins`.
 * Keys: `/` finds (the focused page's search field), `g r` runs, `g w` workflows, `g p` plugins.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api } from './api.js';
import { completeSignIn, currentToken, identityOfToken, signIn, signOut } from './auth.js';
import { type ConsoleConfig, loadConfig } from './config.js';
import type { Identity, Workflow } from './model.js';
import { PluginsView } from './plugins.js';
import { RunView } from './run.js';
import { RunsView } from './runs.js';
import { errorText, href, useRoute } from './util.js';
import { WorkflowsView } from './workflows.js';

interface Session {
  readonly config: ConsoleConfig;
  readonly identity: Identity;
  readonly api: Api;
  readonly workflows: readonly Workflow[];
}

async function open(): Promise<Session | { signIn: () => Promise<never> }> {
  const config = await loadConfig();
  let identity: Identity;
  let token: () => string | undefined = () => undefined;
  if (config.auth.kind === 'oidc') {
    const settings = config.auth;
    await completeSignIn(settings);
    const current = currentToken();
    if (current === undefined) return { signIn: () => signIn(settings) };
    identity = identityOfToken(current);
    token = currentToken;
  } else {
    const response = await fetch(config.auth.identityUrl, { cache: 'no-store' });
    if (!response.ok)
      throw new Error(`the console server did not say who it acts as (HTTP ${response.status})`);
    identity = (await response.json()) as Identity;
  }
  const api = new Api(config.apiBase, token);
  const { workflows } = await api.workflows();
  return { config, identity, api, workflows };
}

function App() {
  const [session, setSession] = useState<Session>();
  const [login, setLogin] = useState<() => Promise<never>>();
  const [failure, setFailure] = useState<string>();
  const route = useRoute();
  useEffect(() => {
    open().then(
      (s) => ('signIn' in s ? setLogin(() => s.signIn) : setSession(s)),
      (e: unknown) => setFailure(errorText(e)),
    );
  }, []);
  useHotkeys();
  if (failure) {
    return (
      <main id="main" class="page">
        <h1>The console could not start</h1>
        <p class="problem" role="alert">
          {failure}
        </p>
      </main>
    );
  }
  if (login) {
    return (
      <main id="main" class="page center">
        <h1>Plugboard</h1>
        <p>Sign in to see and operate runs.</p>
        <button type="button" class="primary" onClick={() => void login()}>
          Sign in
        </button>
      </main>
    );
  }
  if (!session) return <main class="page">Loading…</main>;
  return <Shell session={session} route={route} />;
}

function Shell({ session, route }: { session: Session; route: ReturnType<typeof useRoute> }) {
  const { api, config, identity, workflows } = session;
  const [section = 'runs', workflow, uid] = route.path;
  const page = useMemo(() => {
    if (section === 'runs' && workflow && uid)
      return (
        <RunView api={api} config={config} identity={identity} workflow={workflow} uid={uid} route={route} />
      );
    if (section === 'workflows')
      return <WorkflowsView workflows={workflows} identity={identity} focus={workflow} api={api} />;
    if (section === 'plugins') return <PluginsView api={api} />;
    return <RunsView api={api} workflows={workflows} route={route} pollMs={config.pollMs ?? 2000} />;
  }, [section, workflow, uid, route, api, config, identity, workflows]);
  return (
    <>
      <button type="button" class="skip-link" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <a class="brand" href={href(['runs'])}>
          Plugboard
        </a>
        <nav aria-label="Sections">
          <a href={href(['runs'])} aria-current={section === 'runs' ? 'page' : undefined}>
            Runs
          </a>
          <a href={href(['workflows'])} aria-current={section === 'workflows' ? 'page' : undefined}>
            Workflows
          </a>
          <a href={href(['plugins'])} aria-current={section === 'plugins' ? 'page' : undefined}>
            Plugins
          </a>
        </nav>
        <span class="who" title={identity.source} data-testid="identity">
          {identity.name}
          {identity.permissions.operate
            ? ' · operator'
            : identity.permissions.start !== '*' && identity.permissions.start.length === 0
              ? ' · reader'
              : ' · starter'}
        </span>
        {config.auth.kind === 'oidc' && (
          <button
            type="button"
            onClick={() => {
              signOut();
              location.reload();
            }}
          >
            Sign out
          </button>
        )}
      </header>
      <main id="main" class="page" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

/** `/` focuses the page's search field; `g` then `r`/`w`/`p` goes to a section. */
function useHotkeys() {
  useEffect(() => {
    let pendingG = false;
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === '/') {
        const field = document.querySelector<HTMLInputElement>('main input[type=search]');
        if (field) {
          event.preventDefault();
          field.focus();
        }
        return;
      }
      if (pendingG) {
        pendingG = false;
        const to = { r: 'runs', w: 'workflows', p: 'plugins' }[event.key];
        if (to) location.hash = href([to]);
        return;
      }
      pendingG = event.key === 'g';
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

const root = document.getElementById('app');
if (root) render(<App />, root);
