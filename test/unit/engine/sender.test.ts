/**
 * Who may speak on a stage inbox: a report counts only from a registered principal of its plugin,
 * engine commands only from the engine's roles, start-stage nudges also from operators.
 */
import { describe, expect, it } from 'vitest';
import {
  type Command,
  type InboxMessage,
  type Registration,
  registrationSchema,
  reportSchema,
} from '../../../lambdas/contracts/index.js';
import { checkSender, principalOf, type SenderRules } from '../../../lambdas/engine/sender.js';

const PAYMENT_ROLE = 'AROAPAYMENTROLE000001';
const GIFT_ROLE = 'AROAGIFTWRAPROLE00002';
const BRIDGE_CONSUMER_ROLE = 'AROABRIDGECONSUMER003';
const ORCHESTRATOR_ROLE = 'AROAORCHESTRATOR00004';
const SWEEPER_ROLE = 'AROASWEEPERROLE000005';
const OPERATOR_ROLE = 'AROAOPERATORROLE00006';
const RULES: SenderRules = { engine: [ORCHESTRATOR_ROLE, SWEEPER_ROLE], operators: [] };

const registration = (name: string, principals?: string[]): Registration =>
  registrationSchema.parse({
    activity: 'checkout',
    stage: 'parallel',
    info: { name, default: { mandatory: name === 'charge-payment' } },
    ...(principals ? { principals } : {}),
  });

const REGISTRATIONS = [
  registration('charge-payment', [PAYMENT_ROLE]),
  registration('gift-wrap', [GIFT_ROLE, BRIDGE_CONSUMER_ROLE]),
  registration('legacy-plugin'),
];

const report = (plugin: string): InboxMessage =>
  reportSchema.parse({
    kind: 'report',
    workflow: 'order',
    uid: 'o-1',
    generation: 1,
    activity: 'checkout',
    stage: 'parallel',
    plugin,
    attempt: 1,
    reportedAt: '2026-12-04T10:00:00.000Z',
    status: 'Complete',
    result: { charged: 0 },
  });

const base = {
  schemaVersion: 1 as const,
  workflow: 'order',
  uid: 'o-1',
  generation: 1,
  activity: 'checkout',
  stage: 'parallel' as const,
};
const startStage: Command = { ...base, kind: 'start-stage' };
const retry: Command = { ...base, kind: 'retry', plugins: ['charge-payment'], attempt: 1 };
const timeout: Command = { ...base, kind: 'timeout', plugin: 'charge-payment', attempt: 1 };

describe('checkSender', () => {
  it('accepts a report from a role registered for its plugin, with any session name', () => {
    expect(checkSender(report('charge-payment'), `${PAYMENT_ROLE}:charge-fn`, REGISTRATIONS, RULES)).toEqual({
      accepted: true,
      legacy: false,
    });
  });

  it('accepts a queue bridge plugin’s report from its consumer’s role too', () => {
    const verdict = checkSender(
      report('gift-wrap'),
      `${BRIDGE_CONSUMER_ROLE}:consumer`,
      REGISTRATIONS,
      RULES,
    );
    expect(verdict.accepted).toBe(true);
  });

  it('refuses a report for another plugin, naming the sender and the plugin but no content', () => {
    const verdict = checkSender(report('charge-payment'), `${GIFT_ROLE}:gift-fn`, REGISTRATIONS, RULES);

    expect(verdict).toEqual({
      accepted: false,
      reason: `unauthenticated sender: "${GIFT_ROLE}:gift-fn" is not a registered principal of plugin "charge-payment" in checkout/parallel`,
    });
    expect(JSON.stringify(verdict)).not.toContain('charged');
  });

  it('refuses a report without a sender and one for a plugin that is not registered', () => {
    expect(checkSender(report('charge-payment'), undefined, REGISTRATIONS, RULES)).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('unauthenticated sender: (none)'),
    });
    expect(checkSender(report('ghost'), `${PAYMENT_ROLE}:x`, REGISTRATIONS, RULES)).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('"ghost", which is not registered in checkout/parallel'),
    });
  });

  it('accepts a report for a registration without principals as legacy', () => {
    expect(checkSender(report('legacy-plugin'), 'AIDAANYONE0000000001', REGISTRATIONS, RULES)).toEqual({
      accepted: true,
      legacy: true,
    });
  });

  it('accepts retry and timeout commands only from the engine’s roles', () => {
    for (const command of [retry, timeout]) {
      expect(checkSender(command, `${ORCHESTRATOR_ROLE}:s`, REGISTRATIONS, RULES).accepted).toBe(true);
      expect(checkSender(command, `${SWEEPER_ROLE}:s`, REGISTRATIONS, RULES).accepted).toBe(true);
      expect(checkSender(command, `${PAYMENT_ROLE}:s`, REGISTRATIONS, RULES)).toMatchObject({
        accepted: false,
        reason: expect.stringContaining(`may not send ${command.kind} commands to checkout/parallel`),
      });
      expect(checkSender(command, `${OPERATOR_ROLE}:s`, REGISTRATIONS, RULES).accepted).toBe(false);
    }
  });

  it('accepts a start-stage from an operator, but never from a plugin of the stage', () => {
    expect(checkSender(startStage, `${OPERATOR_ROLE}:alice`, REGISTRATIONS, RULES).accepted).toBe(true);
    expect(checkSender(startStage, `${PAYMENT_ROLE}:charge-fn`, REGISTRATIONS, RULES).accepted).toBe(false);
    expect(checkSender(startStage, undefined, REGISTRATIONS, RULES).accepted).toBe(false);
  });

  it('accepts a start-stage only from the listed operators when operators are configured', () => {
    const rules = { ...RULES, operators: [OPERATOR_ROLE] };
    expect(checkSender(startStage, `${OPERATOR_ROLE}:alice`, REGISTRATIONS, rules).accepted).toBe(true);
    expect(checkSender(startStage, 'AROASOMEONEELSE000007:bob', REGISTRATIONS, rules).accepted).toBe(false);
  });

  it('takes the principal of a role session or a user id as it is', () => {
    expect(principalOf('AROAPAYMENTROLE000001:session:with:colons')).toBe(PAYMENT_ROLE);
    expect(principalOf('AIDAUSER000000000001')).toBe('AIDAUSER000000000001');
    expect(principalOf('')).toBeUndefined();
  });
});
