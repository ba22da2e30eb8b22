/**
 * The plugin registry per activity and stage, with liveness as the API reports it from the plugin
 * metrics (the Overseer's rule: live within 10 minutes, inactive within 20, offline after; idle
 * when nothing was asked of the plugin; unknown when the metrics cannot be read).
 */
import type { Api } from './api.js';
import type { Registration } from './model.js';
import { formatTime, usePoll } from './util.js';

const LIVENESS: Readonly<Record<Registration['liveness'], { symbol: string; css: string; says: string }>> = {
  live: { symbol: '●', css: 's-complete', says: 'reported within 10 minutes' },
  inactive: { symbol: '◐', css: 's-timeout', says: 'last report 10–20 minutes ago' },
  offline: { symbol: '✕', css: 's-error', says: 'no report for more than 20 minutes' },
  idle: { symbol: '○', css: 's-waiting', says: 'nothing was dispatched to it in the last hour' },
  unknown: { symbol: '?', css: 's-waiting', says: 'the plugin metrics could not be read' },
};

export function PluginsView({ api }: { api: Api }) {
  const list = usePoll(
    () => api.plugins(),
    'plugins',
    () => 30_000,
  );
  const groups = new Map<string, Registration[]>();
  for (const p of list.data?.plugins ?? []) {
    const key = `${p.activity} · ${p.stage}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return (
    <section aria-labelledby="plugins-title">
      <h1 id="plugins-title">Plugins</h1>
      {list.error && (
        <p class="problem" role="alert">
          {list.error}
        </p>
      )}
      {list.loading && !list.data && <p>Loading…</p>}
      {[...groups].map(([group, plugins]) => (
        <div class="registry" key={group}>
          <h2>{group}</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Plugin</th>
                <th scope="col">Liveness</th>
                <th scope="col">Last seen</th>
                <th scope="col">Order</th>
                <th scope="col">Mandatory</th>
                <th scope="col">Registered</th>
              </tr>
            </thead>
            <tbody>
              {plugins
                .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin))
                .map((p) => {
                  const look = LIVENESS[p.liveness];
                  return (
                    <tr key={p.plugin} data-plugin={p.plugin}>
                      <td>{p.plugin}</td>
                      <td>
                        <span class={`badge ${look.css}`} title={look.says}>
                          <span class="sym" aria-hidden="true">
                            {look.symbol}
                          </span>
                          <span class="label">{p.liveness}</span>
                        </span>
                      </td>
                      <td>{formatTime(p.lastSeen)}</td>
                      <td>{p.order}</td>
                      <td>{p.mandatory ? 'yes' : 'optional'}</td>
                      <td>{formatTime(p.registeredAt)}</td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
      ))}
      <p class="hint">
        Liveness:{' '}
        {Object.entries(LIVENESS)
          .map(([name, l]) => `${l.symbol} ${name}: ${l.says}`)
          .join('; ')}
        .
      </p>
    </section>
  );
}
