/**
 * The subscription filter policy of a plugin: its own policy plus `plugins: [<name>]`, so that a
 * publish reaches only the plugins it targets (ARCHITECTURE §5, Hand-offs).
 */

export type FilterPolicyScope = 'MessageAttributes' | 'MessageBody';

/** The key Plugboard adds to every plugin's policy (a `String.Array` attribute, or the body's array). */
export const TARGETING_KEY = 'plugins';

/**
 * The plugin's own policy with the targeting added. A top-level `$or` stays as it is: SNS ANDs it
 * with the other keys.
 *
 * @example
 * ```ts
 * targetedFilterPolicy('check-credit', { country: ['NL', 'BE'] });
 * // { country: ['NL', 'BE'], plugins: ['check-credit'] }
 * ```
 */
export function targetedFilterPolicy(
  plugin: string,
  own: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  return { ...own, [TARGETING_KEY]: [plugin] };
}

/** Problems with a plugin's own filter policy, each naming the prop and the fix. */
export function filterPolicyProblems(own: unknown): string[] {
  if (own === undefined) return [];
  if (typeof own !== 'object' || own === null || Array.isArray(own)) {
    return [`filterPolicy: must be an object of SNS filter policy rules, got ${JSON.stringify(own)}`];
  }
  if (Object.hasOwn(own, TARGETING_KEY)) {
    return [
      `filterPolicy.${TARGETING_KEY}: "${TARGETING_KEY}" is reserved: Plugboard adds plugins: [<plugin name>] to every subscription so that a publish reaches only the plugins it targets. Remove the key and filter on other attributes or metadata.`,
    ];
  }
  return [];
}
