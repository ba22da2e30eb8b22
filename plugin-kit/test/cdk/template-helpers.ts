/** Helpers that read synthesized templates for the construct tests. */
import type { Template } from 'aws-cdk-lib/assertions';

export interface GrantedAction {
  readonly action: string;
  readonly resource: unknown;
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** Every (action, resource) pair allowed by the template's IAM policies, sorted and without duplicates. */
export function iamActions(template: Template): GrantedAction[] {
  const pairs = new Map<string, GrantedAction>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const statement of list(policy.Properties?.PolicyDocument?.Statement)) {
      if (typeof statement !== 'object' || statement === null) continue;
      for (const action of list(Reflect.get(statement, 'Action'))) {
        for (const resource of list(Reflect.get(statement, 'Resource'))) {
          const pair = { action: String(action), resource };
          pairs.set(JSON.stringify(pair), pair);
        }
      }
    }
  }
  return [...pairs.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The string a `Fn::Join` builds, with every unresolved part replaced by `placeholder`. */
export function joinedString(value: unknown, placeholder: string): string {
  if (typeof value === 'string') return value;
  const join = typeof value === 'object' && value !== null ? Reflect.get(value, 'Fn::Join') : undefined;
  if (!Array.isArray(join)) throw new Error(`not a string or Fn::Join: ${JSON.stringify(value)}`);
  const [separator, parts] = join;
  return list(parts)
    .map((part) => (typeof part === 'string' ? part : placeholder))
    .join(String(separator));
}
