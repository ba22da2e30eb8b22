/**
 * A registry that keeps each stage's registrations in the container for a short time. Every stage
 * start reads the registry; at a steady rate that read is the same answer over and over, so a warm
 * container pays it once per TTL instead of once per run. A registration made or removed meanwhile is
 * seen by warm containers within the TTL (a new plugin plugs in for runs whose stage starts later).
 */
import type { Registration, StageName } from '../contracts/index.js';
import type { Clock, Registry } from '../engine/ports.js';

/** How long a container trusts a stage's registrations it has read. */
export const REGISTRY_CACHE_TTL_MS = 30_000;

interface Entry {
  readonly at: number;
  readonly value: Promise<readonly Registration[]>;
}

export class CachedRegistry implements Registry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly inner: Registry,
    private readonly clock: Clock,
    private readonly ttlMs: number = REGISTRY_CACHE_TTL_MS,
  ) {}

  async put(registration: Registration): Promise<void> {
    await this.inner.put(registration);
    this.entries.delete(keyOf(registration.activity, registration.stage));
  }

  async remove(activity: string, stage: StageName, plugin: string): Promise<void> {
    await this.inner.remove(activity, stage, plugin);
    this.entries.delete(keyOf(activity, stage));
  }

  /**
   * Forgets one stage's registrations, so the next `list` reads them: the sender check reads again
   * before it refuses a sender, so a plugin registered (or redeployed with a new role) within the TTL
   * is not refused for a stale cache.
   */
  invalidate(activity: string, stage: StageName): void {
    this.entries.delete(keyOf(activity, stage));
  }

  list(activity: string, stage: StageName): Promise<readonly Registration[]> {
    const key = keyOf(activity, stage);
    const now = this.clock.now().getTime();
    const entry = this.entries.get(key);
    if (entry && now - entry.at < this.ttlMs) return entry.value;
    // Concurrent starts of one stage share one read; a failed read is not kept.
    const value = this.inner.list(activity, stage);
    this.entries.set(key, { at: now, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}

const keyOf = (activity: string, stage: StageName): string => `${activity}#${stage}`;
