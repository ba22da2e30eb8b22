/**
 * The engine with its real adapters on moto: SNS topics with the real filter policies, SQS inboxes,
 * the status table. Faults moto cannot produce (duplicates, reordering, crashes) are injected here.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import type { FakePlugin } from '../support/orchestra.js';
import { referenceOrchestra, referencePlugins, WORKFLOW } from '../support/reference.js';

const moto = useMoto();
const orchestra = (plugins: FakePlugin[]) => referenceOrchestra(moto.endpoint, plugins);

describe('bad input on moto', () => {
  it('answers an unknown workflow with a clear error', async () => {
    const o = await orchestra([]);

    const response = await o.start({ workflow: 'nope', uid: 'x-1' });

    expect(response).toMatchObject({ ok: false, error: { type: 'UnknownWorkflowError' } });
    expect(JSON.stringify(response)).toContain('Known workflows: order');
  });

  it('moves a malformed report to the dead-letter queue with the reason', async () => {
    const o = await orchestra(referencePlugins());
    await o.sendToInbox('intake', 'pre', JSON.stringify({ kind: 'report', workflow: WORKFLOW }));

    await o.pump();

    const dead = await o.deadLetters('intake', 'pre');
    expect(dead).toHaveLength(1);
    expect(dead[0]?.MessageAttributes?.reason?.StringValue).toContain('does not match its schema');
  });

  it('moves a report with an oversized result to the dead-letter queue, naming the limit', async () => {
    const o = await orchestra(referencePlugins());
    await o.start({ workflow: WORKFLOW, uid: 'big-1' });
    await o.pump();
    const report = {
      kind: 'report',
      workflow: WORKFLOW,
      uid: 'big-1',
      generation: 1,
      activity: 'intake',
      stage: 'pre',
      plugin: 'intake-pre',
      attempt: 1,
      reportedAt: new Date().toISOString(),
      status: 'Complete',
      result: { blob: 'x'.repeat(5000) },
    };
    await o.sendToInbox('intake', 'pre', JSON.stringify(report));

    await o.pump();

    const dead = await o.deadLetters('intake', 'pre');
    expect(dead.map((m) => m.MessageAttributes?.reason?.StringValue).join()).toContain(
      'the limit is 4096 bytes',
    );
  });
});
