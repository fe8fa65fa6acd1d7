/**
 * The last value computed per name (an installation, a revision of one), with the key of what it
 * was computed from: most passes compute exactly what the last one did (a render, an enrolment
 * plan), and the key says when they would not. Bounded by the names an operator serves, the
 * name used longest ago going first, so one deleted long ago is not kept forever.
 */
export class LastComputed<T> {
  private readonly entries = new Map<string, { key: string; value: T }>();

  constructor(private readonly limit = 256) {}

  /** The value kept for `name` if it was computed from `key`. */
  get(name: string, key: string): T | undefined {
    const entry = this.entries.get(name);
    return entry?.key === key ? entry.value : undefined;
  }

  /** Keeps `value` as computed for `name` from `key`, in place of what was kept for it. */
  set(name: string, key: string, value: T): void {
    this.entries.delete(name);
    this.entries.set(name, { key, value });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets what was kept for `name`. */
  delete(name: string): void {
    this.entries.delete(name);
  }
}
