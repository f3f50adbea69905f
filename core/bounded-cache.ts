/** A map that forgets the entry used least recently once it holds `capacity` entries. */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  /** The value of `key`, computed (and kept) when absent. */
  get(key: K, compute: () => V): V {
    let value = this.entries.get(key);
    if (value !== undefined) {
      // A Map keeps insertion order: moving the key last makes the first key the least recently used.
      this.entries.delete(key);
    } else {
      value = compute();
      if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, value);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
