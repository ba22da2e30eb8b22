/**
 * Builds DynamoDB update and condition expressions with placeholders for every name and value, so
 * reserved words (`state`, `result`, `message`…) and user data never end up in expression text.
 */
import { InvalidStoreRequestError } from './errors.js';

export interface BuiltExpression {
  readonly UpdateExpression?: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

export class ExpressionBuilder {
  private readonly names = new Map<string, string>();
  private readonly values: Record<string, unknown> = {};
  private valueCount = 0;
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly conditions: string[] = [];

  /** The placeholder path of an attribute, or of a nested map entry (`stateTimes`, `Complete`). */
  path(...attributes: readonly string[]): string {
    return attributes.map((attribute) => this.name(attribute)).join('.');
  }

  /** A value placeholder bound to `value`. */
  value(value: unknown): string {
    const placeholder = `:v${this.valueCount}`;
    this.valueCount += 1;
    this.values[placeholder] = value;
    return placeholder;
  }

  /** `#state IN (:a, :b)`; `candidates` must not be empty. */
  in(attribute: string, candidates: readonly unknown[]): string {
    return `${this.path(attribute)} IN (${candidates.map((candidate) => this.value(candidate)).join(', ')})`;
  }

  set(path: readonly string[], value: unknown): this {
    this.sets.push(`${this.path(...path)} = ${this.value(value)}`);
    return this;
  }

  /** `SET target = source`: copies another attribute of the same item. */
  copy(target: readonly string[], source: readonly string[]): this {
    this.sets.push(`${this.path(...target)} = ${this.path(...source)}`);
    return this;
  }

  /** `SET list = list_append(if_not_exists(list, []), items)`: appends to a list, creating it. */
  append(path: readonly string[], items: readonly unknown[]): this {
    const target = this.path(...path);
    this.sets.push(
      `${target} = list_append(if_not_exists(${target}, ${this.value([])}), ${this.value(items)})`,
    );
    return this;
  }

  remove(path: readonly string[]): this {
    this.removes.push(this.path(...path));
    return this;
  }

  /** `ADD`: a number to a number, or members to a set (adding a member twice keeps one). */
  add(path: readonly string[], amount: number | ReadonlySet<string>): this {
    this.adds.push(`${this.path(...path)} ${this.value(amount)}`);
    return this;
  }

  /** Adds a clause to the condition; clauses are joined with AND. */
  condition(clause: string): this {
    this.conditions.push(clause);
    return this;
  }

  /** The expressions of an UpdateItem (or a transaction's Update); it must update something. */
  buildUpdate(): BuiltExpression & { readonly UpdateExpression: string } {
    const built = this.build();
    if (built.UpdateExpression === undefined) {
      throw new InvalidStoreRequestError('An update must change at least one attribute.');
    }
    return { ...built, UpdateExpression: built.UpdateExpression };
  }

  build(): BuiltExpression {
    const update = [
      this.sets.length ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length ? `REMOVE ${this.removes.join(', ')}` : '',
      this.adds.length ? `ADD ${this.adds.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const names = Object.fromEntries(
      [...this.names].map(([attribute, placeholder]) => [placeholder, attribute]),
    );
    return {
      ...(update ? { UpdateExpression: update } : {}),
      ...(this.conditions.length
        ? { ConditionExpression: this.conditions.map((clause) => `(${clause})`).join(' AND ') }
        : {}),
      ...(this.names.size ? { ExpressionAttributeNames: names } : {}),
      ...(this.valueCount ? { ExpressionAttributeValues: { ...this.values } } : {}),
    };
  }

  private name(attribute: string): string {
    let placeholder = this.names.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#n${this.names.size}`;
      this.names.set(attribute, placeholder);
    }
    return placeholder;
  }
}
