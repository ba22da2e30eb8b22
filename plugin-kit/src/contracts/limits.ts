/** Documented limits of the public contracts (docs/contracts.md). Changing one is a contract change. */
export const LIMITS = {
  /** Serialized JSON size of a run's metadata. */
  metadataBytes: 32 * 1024,
  /** Serialized JSON size of the result a plugin may store with `Complete`. */
  resultBytes: 4 * 1024,
  /** Characters of a status message kept; longer ones are cut with an ellipsis. */
  messageChars: 1000,
  /** Scalar metadata entries promoted to SNS message attributes (SNS→SQS raw delivery allows 10 in all). */
  metadataAttributes: 6,
  /** Longest SNS string attribute value we promote. */
  attributeValueChars: 256,
} as const;

export const SCHEMA_VERSION = 1 as const;

/** Lower-case names used in stack names and exports: workflows and activities. */
export const RESOURCE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
/** Plugin names: what subscriptions filter on and what reports carry. */
export const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** A `PluginError.code` as reports carry it: short, machine-readable, no spaces. */
export const ERROR_CODE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** A run's business key. `#` is excluded because it separates key parts in the status table. */
export const UID = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
/** Legal SNS message attribute names (no AWS./Amazon. prefix, no leading/trailing or double dots). */
export const ATTRIBUTE_NAME = /^(?!aws\.|amazon\.)(?!.*\.\.)(?!\.)[A-Za-z0-9_.-]{1,256}(?<!\.)$/i;
/** Message attribute names Plugboard sets itself; metadata cannot use them. */
export const RESERVED_ATTRIBUTES = ['workflow', 'activity', 'stage', 'plugins', 'uid'] as const;

export function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

export function truncateMessage(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  return message.length > LIMITS.messageChars ? `${message.slice(0, LIMITS.messageChars - 1)}…` : message;
}
