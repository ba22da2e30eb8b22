/**
 * The runs `npm start` starts, what each demonstrates and what it must end as. The example plugins'
 * behaviour is chosen by run metadata (examples/plugins/shared.ts), so one deployment serves them all.
 */
import type { PluginRecord, RunSnapshot } from '../../lambdas/engine/records.js';
import type { PluginState, RunState } from '../../plugin-kit/src/index.js';

export interface DemoScenario {
  readonly uid: string;
  /** One line: what this run shows. */
  readonly title: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The state the run must end in. */
  readonly run: RunState;
  /** Text the run's message must contain (failed runs). */
  readonly message?: string;
  /** Plugin states (`activity/stage/plugin`) the run must end with, and minimum attempts. */
  readonly plugins: Readonly<
    Record<string, PluginState | { readonly state: PluginState; readonly attempt: number }>
  >;
}

export const DEMO_SCENARIOS: readonly DemoScenario[] = [
  {
    uid: 'order-gift',
    title:
      'gift-wrapped order: every plugin runs, gift-wrap passes its filter policy, loyalty-points via the queue bridge',
    metadata: { customer: 'c-1', giftWrap: true },
    run: 'Complete',
    plugins: {
      'intake/pre/validate-order': 'Complete',
      'fulfilment/parallel/gift-wrap': 'Complete',
      'fulfilment/parallel/loyalty-points': 'Complete',
      'notify/post/send-confirmation': 'Complete',
    },
  },
  {
    uid: 'order-retry',
    title:
      'plain order: charge-payment fails once and succeeds on retry; gift-wrap is filtered out; optional request-review fails',
    metadata: { customer: 'c-2', giftWrap: false, failPayment: 'once', failReview: true },
    run: 'Complete',
    plugins: {
      'fulfilment/parallel/charge-payment': { state: 'Complete', attempt: 2 },
      'fulfilment/parallel/gift-wrap': 'Do Not Run',
      'notify/parallel/request-review': 'Error',
      'notify/post/send-confirmation': 'Complete',
    },
  },
  {
    uid: 'order-courier-hangs',
    title: 'optional track-courier hangs: timed out after its 5 s deadline, the run completes',
    metadata: { customer: 'c-3', hangCourier: true },
    run: 'Complete',
    plugins: { 'fulfilment/parallel/track-courier': 'Timed Out', 'fulfilment/post/ship-order': 'Complete' },
  },
  {
    uid: 'order-declined',
    title: 'payment always fails: charge-payment exhausts its 2 attempts, the run fails with its message',
    metadata: { customer: 'c-4', failPayment: 'always' },
    run: 'Error',
    message: 'payment gateway timed out',
    plugins: { 'fulfilment/parallel/charge-payment': { state: 'Error', attempt: 2 } },
  },
];

export const pluginPath = (p: Pick<PluginRecord, 'activity' | 'stage' | 'plugin'>): string =>
  `${p.activity}/${p.stage}/${p.plugin}`;

/** What differs from the scenario's expectations (empty when the run ended as expected). */
export function scenarioProblems(scenario: DemoScenario, snapshot: RunSnapshot | undefined): string[] {
  if (snapshot === undefined) return ['the run was never created'];
  const problems: string[] = [];
  if (snapshot.run.state !== scenario.run) {
    problems.push(
      `run is ${snapshot.run.state}, expected ${scenario.run}${snapshot.run.message ? ` (${snapshot.run.message})` : ''}`,
    );
  }
  if (scenario.message !== undefined && !(snapshot.run.message ?? '').includes(scenario.message)) {
    problems.push(
      `run message is "${snapshot.run.message ?? ''}", expected it to contain "${scenario.message}"`,
    );
  }
  for (const [path, expected] of Object.entries(scenario.plugins)) {
    const record = snapshot.plugins.find((p) => pluginPath(p) === path);
    const state = typeof expected === 'string' ? expected : expected.state;
    if (record === undefined) {
      problems.push(`${path} has no status record, expected ${state}`);
      continue;
    }
    if (record.state !== state) {
      problems.push(
        `${path} is ${record.state}, expected ${state}${record.message ? ` (${record.message})` : ''}`,
      );
    }
    if (typeof expected !== 'string' && record.attempt !== expected.attempt) {
      problems.push(`${path} ended at attempt ${record.attempt}, expected ${expected.attempt}`);
    }
  }
  return problems;
}
