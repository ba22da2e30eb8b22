/** The API's run tree: every attempt of a plugin, with its outcome and message, validated by its schema. */
import { describe, expect, it } from 'vitest';
import { runTree } from '../../../lambdas/api/run-view.js';
import { runTreeSchema } from '../../../lambdas/api/schemas.js';
import type { PluginRecord, RunSnapshot } from '../../../lambdas/engine/records.js';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

const charge: PluginRecord = {
  workflow: 'order',
  uid: 'o-1',
  activity: 'fulfilment',
  stage: 'parallel',
  plugin: 'charge-payment',
  generation: 1,
  state: 'Complete',
  mandatory: true,
  order: 10,
  attempt: 3,
  maxAttempts: 3,
  deadlineSeconds: 10,
  message: 'charged',
  updatedAt: at(30),
  stateTimes: { 'In Progress': at(29), Complete: at(30) },
  history: [
    {
      attempt: 1,
      outcome: 'Error',
      startedAt: at(1),
      endedAt: at(2),
      message: 'gateway down',
      errorCode: 'E_GATEWAY',
    },
    {
      attempt: 2,
      outcome: 'Timed Out',
      startedAt: at(5),
      endedAt: at(16),
      message: 'no report within 10 s (attempt 2 of 3)',
    },
  ],
};

const snapshot: RunSnapshot = {
  run: {
    workflow: 'order',
    uid: 'o-1',
    state: 'Complete',
    generation: 1,
    activities: ['fulfilment'],
    metadata: {},
    createdAt: at(0),
    updatedAt: at(31),
    endedAt: at(31),
    position: { activity: 'fulfilment', stage: 'pre' },
    stateTimes: { 'In Progress': at(0), Complete: at(31) },
  },
  stages: [
    {
      workflow: 'order',
      uid: 'o-1',
      activity: 'fulfilment',
      stage: 'parallel',
      generation: 1,
      state: 'Complete',
      mode: 'parallel',
      mandatoryPending: 0,
      optionalPending: 0,
      createdAt: at(1),
      updatedAt: at(30),
      stateTimes: { 'In Progress': at(1), Complete: at(30) },
    },
  ],
  plugins: [charge],
};

describe('the API run tree', () => {
  it('shows a plugin that failed twice and then succeeded as three attempts with their messages', () => {
    const tree = runTreeSchema.parse(runTree(snapshot));
    const plugin = tree.tree[0]?.stages.find((s) => s.stage === 'parallel')?.plugins[0];
    expect(plugin?.attempts).toEqual([
      {
        attempt: 1,
        outcome: 'Error',
        startedAt: at(1),
        endedAt: at(2),
        message: 'gateway down',
        errorCode: 'E_GATEWAY',
      },
      {
        attempt: 2,
        outcome: 'Timed Out',
        startedAt: at(5),
        endedAt: at(16),
        message: 'no report within 10 s (attempt 2 of 3)',
      },
      { attempt: 3, outcome: 'Complete', startedAt: at(29), endedAt: at(30), message: 'charged' },
    ]);
  });
});
