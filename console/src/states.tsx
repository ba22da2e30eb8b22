/**
 * How a state looks: a symbol and a word as well as a colour, so no state is told by colour alone.
 * The colours are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies);
 * the symbols differ in shape, not only in fill. console/styles.css defines the `s-…` classes.
 */
import type { AnyState } from './model.js';

interface Look {
  readonly symbol: string;
  readonly css: string;
}

const LOOKS: Readonly<Record<string, Look>> = {
  'Not Started': { symbol: '○', css: 's-waiting' },
  'Not Reached': { symbol: '·', css: 's-waiting' },
  'In Progress': { symbol: '▶', css: 's-running' },
  'Mandatory Completed': { symbol: '◑', css: 's-partial' },
  Complete: { symbol: '✓', css: 's-complete' },
  Error: { symbol: '✕', css: 's-error' },
  'Optional Task Error': { symbol: '!', css: 's-warning' },
  'Timed Out': { symbol: '◷', css: 's-timeout' },
  'Do Not Run': { symbol: '⊘', css: 's-skipped' },
  Cancelled: { symbol: '■', css: 's-cancelled' },
};

export function lookOf(state: AnyState | string): Look {
  return LOOKS[state] ?? { symbol: '?', css: 's-waiting' };
}

/** A state as the console shows it everywhere: symbol, then the state's name. */
export function StateBadge({ state, compact = false }: { state: AnyState | string; compact?: boolean }) {
  const look = lookOf(state);
  return (
    <span class={`badge ${look.css}`} data-state={state} title={state}>
      <span class="sym" aria-hidden="true">
        {look.symbol}
      </span>
      {compact ? <span class="sr-only">{state}</span> : <span class="label">{state}</span>}
    </span>
  );
}
