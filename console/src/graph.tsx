/**
 * A run's graph: activities (in order) → stages (pre → parallel → post) → plugins, each coloured by
 * state with a symbol and its state's name. A stage of a few plugins lists them; a wide stage (more
 * than {@link WIDE}) shows the same information at the scale it has: a bar of counts per state, a
 * search and a state filter, and the matching plugins in pages of chips, collapsed until asked for.
 * One picture for 5 plugins and for 1,000.
 */
import { useMemo, useState } from 'preact/hooks';
import type { PluginView, RunTree, StageView } from './model.js';
import { lookOf, StateBadge } from './states.js';

/** Above this many plugins a stage is drawn as a summary with search instead of a list. */
export const WIDE = 24;
/** Chips drawn at once in a wide stage (more on demand). */
const CHIP_PAGE = 200;

export interface PluginRef {
  readonly activity: string;
  readonly stage: string;
  readonly plugin: string;
}

export const refKey = (r: PluginRef): string => `${r.activity}/${r.stage}/${r.plugin}`;

export function RunGraph({
  run,
  selected,
  onSelect,
}: {
  run: RunTree;
  selected: string | undefined;
  onSelect: (ref: PluginRef) => void;
}) {
  return (
    <div class="graph">
      {run.tree.map((activity, i) => (
        <section class="activity" key={activity.activity} aria-label={`Activity ${activity.activity}`}>
          <h3>
            <span class="step">{i + 1}</span> {activity.activity}
          </h3>
          {activity.stages.map((stage) => (
            <Stage
              key={stage.stage}
              activity={activity.activity}
              stage={stage}
              selected={selected}
              onSelect={onSelect}
            />
          ))}
        </section>
      ))}
    </div>
  );
}

function Stage({
  activity,
  stage,
  selected,
  onSelect,
}: {
  activity: string;
  stage: StageView;
  selected: string | undefined;
  onSelect: (ref: PluginRef) => void;
}) {
  const wide = stage.plugins.length > WIDE;
  return (
    <div class={`stage ${lookOf(stage.state).css}-edge`} data-stage={`${activity}/${stage.stage}`}>
      <div class="stage-head">
        <span class="stage-name">
          {stage.stage}
          {stage.mode ? <span class="mode"> · {stage.mode}</span> : null}
        </span>
        <StateBadge state={stage.state} />
        <span class="n">{stage.plugins.length === 1 ? '1 plugin' : `${stage.plugins.length} plugins`}</span>
      </div>
      {stage.message && <p class="stage-message">{stage.message}</p>}
      {stage.plugins.length === 0 ? (
        <p class="none">no plugins registered</p>
      ) : wide ? (
        <WideStage activity={activity} stage={stage} selected={selected} onSelect={onSelect} />
      ) : (
        <ul class="plugins">
          {stage.plugins.map((p) => (
            <PluginRow
              key={p.plugin}
              plugin={p}
              r={{ activity, stage: stage.stage, plugin: p.plugin }}
              selected={selected}
              onSelect={onSelect}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function PluginRow({
  plugin,
  r,
  selected,
  onSelect,
}: {
  plugin: PluginView;
  r: PluginRef;
  selected: string | undefined;
  onSelect: (ref: PluginRef) => void;
}) {
  const key = refKey(r);
  return (
    <li class="plugin" data-plugin={key} data-state={plugin.state}>
      <button
        type="button"
        class={`plugin-button ${lookOf(plugin.state).css}`}
        aria-pressed={selected === key}
        onClick={() => onSelect(r)}
      >
        <StateBadge state={plugin.state} />
        <span class="plugin-name">{plugin.plugin}</span>
        {!plugin.mandatory && <span class="tag">optional</span>}
        {plugin.attempt > 1 && (
          <span class="tag" title="attempt of the most allowed">
            attempt {plugin.attempt}/{plugin.maxAttempts}
          </span>
        )}
      </button>
      {plugin.message && <p class="plugin-message">{plugin.message}</p>}
    </li>
  );
}

function WideStage({
  activity,
  stage,
  selected,
  onSelect,
}: {
  activity: string;
  stage: StageView;
  selected: string | undefined;
  onSelect: (ref: PluginRef) => void;
}) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState('');
  const [only, setOnly] = useState<string>();
  const [shown, setShown] = useState(CHIP_PAGE);
  const counts = useMemo(() => {
    const byState = new Map<string, number>();
    for (const p of stage.plugins) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
    return [...byState].sort((a, b) => b[1] - a[1]);
  }, [stage.plugins]);
  const matching = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return stage.plugins.filter(
      (p) =>
        (only === undefined || p.state === only) &&
        (needle === '' || p.plugin.toLowerCase().includes(needle)),
    );
  }, [stage.plugins, search, only]);
  const total = stage.plugins.length;
  return (
    <div class="wide">
      <div class="bar" aria-hidden="true">
        {counts.map(([state, n]) => (
          <span
            key={state}
            class={`seg ${lookOf(state).css}`}
            style={{ flexGrow: n }}
            title={`${n} ${state}`}
          />
        ))}
      </div>
      <fieldset class="state-filter">
        <legend class="sr-only">{`Plugins of ${activity} ${stage.stage} by state`}</legend>
        {counts.map(([state, n]) => (
          <button
            type="button"
            key={state}
            aria-pressed={only === state}
            onClick={() => {
              setOnly(only === state ? undefined : state);
              setOpen(true);
              setShown(CHIP_PAGE);
            }}
          >
            <StateBadge state={state} /> <span class="count">{n}</span>
          </button>
        ))}
      </fieldset>
      <div class="wide-tools">
        <input
          type="search"
          aria-label={`Find a plugin of ${activity} ${stage.stage}`}
          placeholder={`Find among ${total} plugins`}
          value={search}
          onInput={(e) => {
            setSearch(e.currentTarget.value);
            setOpen(true);
            setShown(CHIP_PAGE);
          }}
        />
        <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Collapse' : `Show plugins (${matching.length})`}
        </button>
      </div>
      {open && (
        <>
          <ul class="chips">
            {matching.slice(0, shown).map((p) => {
              const r = { activity, stage: stage.stage, plugin: p.plugin };
              const key = refKey(r);
              return (
                <li key={p.plugin} data-plugin={key} data-state={p.state}>
                  <button
                    type="button"
                    class={`chip ${lookOf(p.state).css}`}
                    aria-pressed={selected === key}
                    aria-label={`${p.plugin}: ${p.state}`}
                    title={`${p.plugin}: ${p.state}${p.message ? ` — ${p.message}` : ''}`}
                    onClick={() => onSelect(r)}
                  >
                    <span aria-hidden="true">{lookOf(p.state).symbol}</span> {p.plugin}
                  </button>
                </li>
              );
            })}
          </ul>
          {matching.length > shown && (
            <button type="button" class="more" onClick={() => setShown(shown + CHIP_PAGE)}>
              Show {Math.min(CHIP_PAGE, matching.length - shown)} more of {matching.length - shown}
            </button>
          )}
          {matching.length === 0 && <p class="none">no plugin matches</p>}
        </>
      )}
    </div>
  );
}
