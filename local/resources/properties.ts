/**
 * Typed access to a resource's resolved properties. A provider reads every property it honours and
 * names every property it ignores with a reason; `done()` then fails on anything left over, so a
 * property the local cloud does not understand is reported, never dropped silently.
 */
import { UnsupportedPropertyError } from '../errors.js';

export interface ResourceIdentity {
  readonly stackName: string;
  readonly logicalId: string;
  readonly type: string;
}

/** A property the provider accepted without applying it, and why. */
export interface IgnoredProperty {
  readonly property: string;
  readonly reason: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class PropertyReader {
  private readonly consumed = new Set<string>();
  readonly ignored: IgnoredProperty[] = [];

  constructor(
    readonly values: Readonly<Record<string, unknown>>,
    readonly identity: ResourceIdentity,
  ) {}

  /** An error about `property`, naming the stack, the resource and the type. */
  error(property: string, detail: string): UnsupportedPropertyError {
    return new UnsupportedPropertyError(
      this.identity.stackName,
      this.identity.logicalId,
      this.identity.type,
      property,
      detail,
    );
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  private take(name: string): unknown {
    this.consumed.add(name);
    return this.values[name];
  }

  /** The raw value (marks the property as read). */
  raw(name: string): unknown {
    return this.take(name);
  }

  optionalString(name: string): string | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw this.error(name, `expected a string, got ${JSON.stringify(value)}`);
  }

  string(name: string): string {
    const value = this.optionalString(name);
    if (value === undefined) throw this.error(name, 'is required');
    return value;
  }

  /** Numbers may come as strings in templates ("30"). */
  optionalNumber(name: string): number | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number === 'number' && Number.isFinite(number)) return number;
    throw this.error(name, `expected a number, got ${JSON.stringify(value)}`);
  }

  /** Booleans may come as strings in templates ("true"). */
  optionalBoolean(name: string): boolean | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw this.error(name, `expected a boolean, got ${JSON.stringify(value)}`);
  }

  optionalObject(name: string): Record<string, unknown> | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (isRecord(value)) return value;
    throw this.error(name, `expected an object, got ${JSON.stringify(value)}`);
  }

  optionalArray(name: string): unknown[] | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (Array.isArray(value)) return value;
    throw this.error(name, `expected a list, got ${JSON.stringify(value)}`);
  }

  optionalStringArray(name: string): string[] | undefined {
    const list = this.optionalArray(name);
    if (list === undefined) return undefined;
    return list.map((item, index) => {
      if (typeof item !== 'string')
        throw this.error(`${name}[${index}]`, `expected a string, got ${JSON.stringify(item)}`);
      return item;
    });
  }

  /** A JSON document property (object in the template, or already JSON text): returns JSON text. */
  optionalJson(name: string): string | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') {
      try {
        JSON.parse(value);
      } catch {
        throw this.error(name, 'is a string but not valid JSON');
      }
      return value;
    }
    return JSON.stringify(value);
  }

  /** Accepts the property without applying it; the reason is kept with the deployed resource. */
  ignore(name: string, reason: string): void {
    if (this.take(name) !== undefined) this.ignored.push({ property: name, reason });
  }

  /** Fails when the property is present: the local cloud cannot honour it. */
  reject(name: string, detail: string): void {
    if (this.take(name) !== undefined) throw this.error(name, detail);
  }

  /** Fails naming every property nobody read. */
  done(): void {
    const left = Object.keys(this.values).filter(
      (name) => !this.consumed.has(name) && this.values[name] !== undefined,
    );
    if (left.length > 0) {
      throw this.error(
        left.join(', '),
        'not understood by the local cloud; honour it in the provider (local/resources/) or ignore it there with a reason',
      );
    }
  }
}

/** Reads a nested object with the same rules (errors name `parent.child`). */
export function nested(
  parent: PropertyReader,
  path: string,
  values: Record<string, unknown>,
): PropertyReader {
  return new PropertyReader(values, {
    ...parent.identity,
    logicalId: `${parent.identity.logicalId}.${path}`,
  });
}

/** Tags have no behaviour locally; every provider accepts them the same way. */
export const TAGS_REASON = 'tags have no behaviour in the local cloud';
