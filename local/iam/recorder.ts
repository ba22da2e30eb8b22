/**
 * Writes down the calls the deployed functions make, as IAM sees them: for every request a
 * function's role was allowed (enforcer.ts `onAllowed`), the role, the action, the resource and the
 * service's condition keys, with every physical name replaced by the template resource it belongs to
 * (`{{<stack>|<logical id>}}` for what `Ref` returns, `{{<stack>|<logical id>|Arn}}` for an
 * attribute). The result does not depend on the names the local cloud generated, so the CDK tests
 * can replay each call against the synthesized templates (test/cdk/iam-simulation.test.ts).
 *
 * Turned on by `PLUGBOARD_IAM_RECORD=<file>` (one JSON line per distinct call, appended);
 * `local/scripts/iam-record.ts` runs the scenarios with it and folds the lines into the fixture.
 */
import { appendFileSync } from 'node:fs';
import type { DeployedStack } from '../deployer.js';
import type { Principal } from './registry.js';
import type { AccessCheck, ContextValues } from './requests.js';

/** One call a function's code made, in template terms. */
export interface RecordedCall {
  /** The stack of the function's role. */
  readonly stack: string;
  /** The logical id of the function's role. */
  readonly role: string;
  readonly action: string;
  /** The resource ARN with its physical names as `{{stack|logicalId[|attribute]}}` tokens. */
  readonly resource: string;
  /**
   * The request's own condition keys (global `aws:` keys are supplied by the evaluator), with a
   * run's uid in a partition key written `{uid}`.
   */
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

/** Condition keys worth keeping: those a policy of ours might test, without per-run values. */
const KEPT_KEYS = new Set([
  'dynamodb:LeadingKeys',
  'dynamodb:Attributes',
  'dynamodb:Select',
  'dynamodb:ReturnValues',
  'sns:Protocol',
  'events:source',
  'events:detail-type',
  'cloudwatch:namespace',
  'kms:ViaService',
]);

/** A run's partition key without its uid (`RUN#order#abc` → `RUN#order#{uid}`): one entry per kind of call. */
export function generalizeLeadingKey(key: string): string {
  const run = /^RUN#([^#]+)#.+$/.exec(key);
  return run === null ? key : `RUN#${run[1]}#{uid}`;
}

/** Resource types whose names and ARNs the recorded resources are made of. */
const NAMED_IN_ARNS = new Set([
  'AWS::IAM::Role',
  'AWS::SQS::Queue',
  'AWS::SNS::Topic',
  'AWS::DynamoDB::Table',
  'AWS::Lambda::Function',
  'AWS::KMS::Key',
  'AWS::Events::EventBus',
  'AWS::Events::Rule',
]);

interface Token {
  readonly value: string;
  readonly token: string;
}

export class CallRecorder {
  private readonly seen = new Set<string>();
  private tokens: Token[] = [];
  private roles = new Map<string, { stack: string; logicalId: string }>();
  private tokensFor = -1;

  constructor(
    private readonly file: string,
    private readonly stacks: () => readonly DeployedStack[],
  ) {}

  private refresh(): void {
    const stacks = this.stacks();
    const size = stacks.reduce((sum, stack) => sum + stack.resources.size, stacks.length);
    if (size === this.tokensFor) return;
    this.tokensFor = size;
    const tokens: Token[] = [];
    this.roles = new Map();
    for (const stack of stacks) {
      for (const resource of stack.resources.values()) {
        const base = `${stack.stackName}|${resource.logicalId}`;
        if (resource.type === 'AWS::IAM::Role')
          this.roles.set(resource.physicalId, { stack: stack.stackName, logicalId: resource.logicalId });
        // Only the names that appear in resource ARNs: a table's or a role's name, a topic's, a
        // queue's, a key's, a function's ARN (not, say, a custom resource's attribute `intake`).
        if (!NAMED_IN_ARNS.has(resource.type)) continue;
        tokens.push({ value: resource.physicalId, token: `{{${base}}}` });
        for (const [attribute, value] of Object.entries(resource.attributes)) {
          if (typeof value === 'string' && value.startsWith('arn:') && value !== resource.physicalId)
            tokens.push({ value, token: `{{${base}|${attribute}}}` });
        }
      }
    }
    // Longest first, so an ARN is replaced as a whole before the name inside it.
    this.tokens = tokens.sort((a, b) => b.value.length - a.value.length);
  }

  /** `text` with every known physical name replaced by its token. */
  tokenize(text: string): string {
    let out = text;
    for (const { value, token } of this.tokens) if (out.includes(value)) out = out.split(value).join(token);
    return out;
  }

  /** Records the checks of one allowed request (a call made twice is written once). */
  record(principal: Principal, checks: readonly AccessCheck[]): void {
    this.refresh();
    const role = this.roles.get(principal.roleName);
    if (role === undefined) return; // a role the deployer did not create (none today)
    for (const check of checks) {
      const context: Record<string, string | string[]> = {};
      for (const [key, value] of Object.entries(check.context as ContextValues)) {
        if (!KEPT_KEYS.has(key)) continue;
        const values = Array.isArray(value) ? value : [value];
        const general = [
          ...new Set(values.map((v) => (key === 'dynamodb:LeadingKeys' ? generalizeLeadingKey(v) : v))),
        ].sort();
        context[key] = Array.isArray(value) ? general : (general[0] ?? '');
      }
      const call: RecordedCall = {
        stack: role.stack,
        role: role.logicalId,
        action: check.action,
        resource: this.tokenize(check.resource),
        context,
      };
      const line = JSON.stringify(call);
      if (this.seen.has(line)) continue;
      this.seen.add(line);
      appendFileSync(this.file, `${line}\n`);
    }
  }
}
