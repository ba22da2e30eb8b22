/** Small helpers shared by the views: hash routes, times, durations, polling. */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Route {
  readonly path: readonly string[];
  readonly query: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const at = hash.indexOf('?');
  const path = (at < 0 ? hash : hash.slice(0, at))
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  return { path, query: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)) };
}

export function href(path: readonly string[], query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value) params.set(key, value);
  const q = params.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '–';
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour12: false })}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function durationOf(from: string | undefined, to: string | undefined, now = Date.now()): string {
  if (from === undefined) return '–';
  return formatDuration((to === undefined ? now : Date.parse(to)) - Date.parse(from));
}

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  /** Asks again now (after an action). */
  readonly refresh: () => void;
}

/**
 * Loads `load()` now and again after the wait `nextPollMs` gives for the answer, a new request only
 * after the previous one answered (a slow API is never asked twice at once). `key` restarts it from
 * scratch; `refresh` asks again at once, keeping what is shown until the answer.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  key: string,
  /** The wait before asking again after an answer (`undefined`: stop). */
  nextPollMs: (data: T | undefined) => number | undefined,
): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean; key: string }>({
    loading: true,
    key,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const nextRef = useRef(nextPollMs);
  nextRef.current = nextPollMs;
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const once = async () => {
      let data: T | undefined;
      try {
        data = await loadRef.current();
        if (!stopped) setState({ data, loading: false, key });
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error: errorText(error), loading: false, key }));
      }
      const wait = stopped ? undefined : nextRef.current(data);
      if (wait !== undefined) timer = setTimeout(once, wait);
    };
    if (state.key !== key) setState({ loading: true, key });
    void once();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [key, tick]);
  const current: { data?: T; error?: string; loading: boolean } =
    state.key === key ? state : { loading: true };
  return {
    data: current.data,
    error: current.error,
    loading: current.loading,
    refresh: () => setTick((t) => t + 1),
  };
}
