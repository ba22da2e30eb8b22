/**
 * The SNS message attributes of a dispatch. One function builds them for both the real publish and
 * the engine's own filter-policy evaluation, so the two can never disagree.
 */
import { LIMITS, type Metadata, type StageName } from '../contracts/index.js';

export interface MessageAttribute {
  readonly DataType: 'String' | 'Number' | 'String.Array';
  readonly StringValue: string;
}

export interface DispatchTarget {
  readonly workflow: string;
  readonly activity: string;
  readonly stage: StageName;
  readonly plugins: readonly string[];
  readonly metadata: Metadata;
}

/**
 * `workflow`, `activity`, `stage`, `plugins` (String.Array), plus up to LIMITS.metadataAttributes
 * scalar metadata entries in key order: strings (≤ 256 characters), finite numbers, booleans (as
 * strings). Other values stay in the message body only, where body-scoped filter policies see them.
 */
export function buildMessageAttributes(target: DispatchTarget): Record<string, MessageAttribute> {
  const attributes: Record<string, MessageAttribute> = {
    workflow: { DataType: 'String', StringValue: target.workflow },
    activity: { DataType: 'String', StringValue: target.activity },
    stage: { DataType: 'String', StringValue: target.stage },
    plugins: { DataType: 'String.Array', StringValue: JSON.stringify(target.plugins) },
  };
  let promoted = 0;
  for (const key of Object.keys(target.metadata).sort()) {
    if (promoted >= LIMITS.metadataAttributes) break;
    const attribute = scalarAttribute(target.metadata[key]);
    if (attribute) {
      attributes[key] = attribute;
      promoted += 1;
    }
  }
  return attributes;
}

function scalarAttribute(value: unknown): MessageAttribute | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= LIMITS.attributeValueChars) {
    return { DataType: 'String', StringValue: value };
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return { DataType: 'Number', StringValue: String(value) };
  }
  if (typeof value === 'boolean') {
    return { DataType: 'String', StringValue: String(value) };
  }
  return undefined;
}
