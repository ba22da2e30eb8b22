/**
 * DynamoDB item sizes and capacity units, from the rules AWS documents in "DynamoDB item sizes and
 * formats" and "Read/write capacity mode" (developer guide):
 *
 * - an item is the sum of its attribute names (UTF-8 bytes) and values;
 * - S: UTF-8 bytes; B: raw bytes; N: 1 byte per two significant digits + 1; BOOL/NULL: 1 byte;
 * - L/M: 3 bytes + the nested values + 1 byte per element; SS/NS/BS: the sum of the elements.
 * - writes: 1 unit per started KB (1,024 bytes) of the larger of the old and the new item, per item;
 *   transactional writes bill 2 units per KB; a failed conditional write still bills.
 * - reads: 1 unit per started 4 KB; eventually consistent reads bill half; transactional reads 2×;
 *   a Query bills the total size of the items it read, rounded up once per request.
 */

/** A DynamoDB JSON attribute value (the wire format). */
export type AttributeValue = Readonly<Record<string, unknown>>;
export type Item = Readonly<Record<string, AttributeValue>>;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Bytes of a number as DynamoDB stores it: leading/trailing zeros trimmed, 2 digits per byte, +1. */
export function numberSize(text: string): number {
  const digits = text
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function binarySize(value: unknown): number {
  if (typeof value === 'string') return Buffer.from(value, 'base64').length;
  if (value instanceof Uint8Array) return value.length;
  return 0;
}

/** Bytes of one attribute value (without its name). */
export function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(String(inner));
    case 'N':
      return numberSize(String(inner));
    case 'B':
      return binarySize(inner);
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (inner as readonly string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (inner as readonly string[]).reduce((sum, s) => sum + numberSize(s), 0);
    case 'BS':
      return (inner as readonly unknown[]).reduce<number>((sum, b) => sum + binarySize(b), 0);
    case 'L': {
      const list = inner as readonly AttributeValue[];
      return 3 + list.reduce((sum, v) => sum + 1 + valueSize(v), 0);
    }
    case 'M': {
      const map = inner as Item;
      return 3 + Object.entries(map).reduce((sum, [k, v]) => sum + 1 + utf8(k) + valueSize(v), 0);
    }
    default:
      return 0;
  }
}

/** Bytes of an item in DynamoDB JSON; 0 for a missing item. */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueSize(value), 0);
}

export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** Write units of one item write: per started KB of the larger image, at least 1; ×2 in a transaction. */
export function writeUnits(oldBytes: number, newBytes: number, transactional: boolean): number {
  const units = Math.max(1, Math.ceil(Math.max(oldBytes, newBytes) / WRITE_UNIT_BYTES));
  return transactional ? units * 2 : units;
}

export type ReadMode = 'eventual' | 'strong' | 'transactional';

/** Read units of one read request over `bytes` (one item, or all items a Query read): at least one unit. */
export function readUnits(bytes: number, mode: ReadMode): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  if (mode === 'eventual') return units / 2;
  if (mode === 'transactional') return units * 2;
  return units;
}

/** A global secondary index: its key attributes (an item without both is not in the sparse index). */
export interface IndexKeys {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** What the index copies of an item: everything, or its keys only (the index's and the table's). */
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

/** The table's own key attributes, which every index entry carries. */
export interface TableKeys {
  readonly partitionKey: string;
  readonly sortKey: string;
}

function inIndex(item: Item | undefined, index: IndexKeys): boolean {
  return item !== undefined && index.partitionKey in item && index.sortKey in item;
}

/** The index entry of an item: what the index stores of it. */
function entryOf(item: Item | undefined, index: IndexKeys, table: TableKeys): Item | undefined {
  if (item === undefined || index.projection === 'ALL') return item;
  const names = [index.partitionKey, index.sortKey, table.partitionKey, table.sortKey];
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.includes(name)));
}

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Index write units of one successful item write: an item entering the index is one put, leaving it
 * one delete, changing its index key a delete and a put, and a change of what the index projects of an
 * indexed item one put (with a keys-only projection, a change of other attributes writes nothing);
 * each bills per started KB of the entry written. Index writes bill at the standard (not
 * transactional) rate.
 */
export function indexWriteUnits(
  before: Item | undefined,
  after: Item | undefined,
  index: IndexKeys,
  table: TableKeys,
): number {
  const was = inIndex(before, index);
  const is = inIndex(after, index);
  const oldEntry = entryOf(before, index, table);
  const newEntry = entryOf(after, index, table);
  const units = (entry: Item | undefined) => writeUnits(0, itemSize(entry), false);
  if (!was && !is) return 0;
  if (was && !is) return units(oldEntry);
  if (!was && is) return units(newEntry);
  const keyChanged =
    !sameValue(before?.[index.partitionKey], after?.[index.partitionKey]) ||
    !sameValue(before?.[index.sortKey], after?.[index.sortKey]);
  if (keyChanged) return units(oldEntry) + units(newEntry);
  return JSON.stringify(oldEntry) === JSON.stringify(newEntry) ? 0 : units(newEntry);
}
