/**
 * Who may speak on a stage inbox (ARCHITECTURE §9, ADR 0008). Plugins must be able to send to the
 * inbox, so the queue alone cannot tell a plugin's report from a forgery: SQS stamps every message
 * with its sender (`SenderId`, `AROA…:<session>` for a role), and this module decides from it.
 *
 * - A report counts only when its sender's role id is a principal registered for the plugin it
 *   names. A registration made before principals existed has none: its reports are accepted and
 *   counted as `legacy` (a warning metric), until its stack is deployed again with the kit.
 * - Engine commands (`retry`, `timeout`) come only from the engine's roles: the stage's own
 *   orchestrator (retries) and the sweeper (timeouts).
 * - `start-stage`, the nudge of `plugboard skip`, also comes from operators: the configured operator
 *   principals, or — when none are configured — any principal that is not a plugin of this stage.
 *
 * The check is pure: the registrations are handed in (the stage handler reads them through the
 * cached registry, and reads again before it refuses, so a just-deployed plugin is not refused).
 */
import type { InboxMessage, Registration } from '../contracts/index.js';

/** Who may send what besides registered plugins. */
export interface SenderRules {
  /** Role ids of the engine functions that send commands to this inbox (its orchestrator, the sweeper). */
  readonly engine: readonly string[];
  /**
   * Role or user ids of operators, who may send `start-stage` nudges. Empty: any principal that is not
   * a registered plugin principal of this stage may (docs/security.md says what that leaves open).
   */
  readonly operators: readonly string[];
}

export type SenderVerdict =
  | { readonly accepted: true; readonly legacy: boolean }
  | { readonly accepted: false; readonly reason: string };

/** The principal part of a `SenderId`: `AROA…:session` → `AROA…`; a user's `AIDA…` as it is. */
export function principalOf(senderId: string | undefined): string | undefined {
  if (senderId === undefined || senderId === '') return undefined;
  const colon = senderId.indexOf(':');
  return colon === -1 ? senderId : senderId.slice(0, colon);
}

/** At most this much of a sender id is repeated in a reason (it comes from the transport, not from us). */
const MAX_SENDER_CHARS = 160;

const shown = (senderId: string | undefined): string =>
  senderId === undefined || senderId === '' ? '(none)' : JSON.stringify(senderId.slice(0, MAX_SENDER_CHARS));

/**
 * Whether `message`, sent by `senderId`, may be applied on this inbox, given the stage's
 * registrations. A refusal's reason starts with `unauthenticated sender:` and names the sender and
 * the plugin or command, never the message's content.
 */
export function checkSender(
  message: InboxMessage,
  senderId: string | undefined,
  registrations: readonly Registration[],
  rules: SenderRules,
): SenderVerdict {
  const principal = principalOf(senderId);
  const where = `${message.activity}/${message.stage}`;
  if (message.kind === 'report') {
    const registration = registrations.find((r) => r.info.name === message.plugin);
    if (registration === undefined) {
      return refuse(
        `${shown(senderId)} reported for plugin "${message.plugin}", which is not registered in ${where}`,
      );
    }
    if (registration.principals === undefined) return { accepted: true, legacy: true };
    if (principal !== undefined && registration.principals.includes(principal)) {
      return { accepted: true, legacy: false };
    }
    return refuse(
      `${shown(senderId)} is not a registered principal of plugin "${message.plugin}" in ${where}`,
    );
  }
  if (principal !== undefined && rules.engine.includes(principal)) return { accepted: true, legacy: false };
  if (message.kind === 'start-stage' && principal !== undefined) {
    if (rules.operators.length > 0 && rules.operators.includes(principal)) {
      return { accepted: true, legacy: false };
    }
    if (rules.operators.length === 0 && !isPluginPrincipal(principal, registrations)) {
      return { accepted: true, legacy: false };
    }
  }
  const allowed =
    message.kind === 'start-stage'
      ? "the engine's roles and operators"
      : "the engine's roles (the stage orchestrator and the sweeper)";
  return refuse(`${shown(senderId)} may not send ${message.kind} commands to ${where}: only ${allowed} may`);
}

/** Whether `principal` may report for any plugin of the stage. */
export function isPluginPrincipal(principal: string, registrations: readonly Registration[]): boolean {
  return registrations.some((r) => r.principals?.includes(principal) ?? false);
}

const refuse = (detail: string): SenderVerdict => ({
  accepted: false,
  reason: `unauthenticated sender: ${detail}`,
});
