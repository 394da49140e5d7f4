// An open-addressed hash table keyed by a pair of integers (a: 0..2^32-1, b: 0..2^31-2): an IPv4 prefix
// (address, length), a policy group (peer, local and direction). A bulk load looks up several per rule:
// a Map keyed by text pays for hashing tens of thousands of fresh strings, and nested Maps for two
// lookups; this hashes two integers and probes one typed array, where a slot's two keys sit side by side.

const MIN_CAPACITY = 64;

export class PairTable<T> {
  /** Slot i: keys[2i] = a, keys[2i + 1] = b + 1 (0: a free slot, so a new table needs no fill). */
  private keys = new Uint32Array(MIN_CAPACITY * 2);
  private values: Array<T | undefined> = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  size = 0;

  get(a: number, b: number): T | undefined {
    const tag = b + 1;
    const keys = this.keys;
    for (let i = this.home(a, b); ; i = (i + 1) & this.mask) {
      const x = keys[2 * i + 1]!;
      if (x === 0) return undefined;
      if (x === tag && keys[2 * i] === a) return this.values[i];
    }
  }

  /** Makes room for `more` entries at once (a bulk load: one rehash instead of one per doubling). */
  reserve(more: number): void {
    let capacity = this.mask + 1;
    while ((this.size + more) * 2 > capacity) capacity *= 2;
    if (capacity > this.mask + 1) this.resize(capacity);
  }

  /** Adds or replaces. */
  set(a: number, b: number, value: T): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    const tag = b + 1;
    const keys = this.keys;
    let i = this.home(a, b);
    for (; keys[2 * i + 1] !== 0; i = (i + 1) & this.mask) {
      if (keys[2 * i + 1] === tag && keys[2 * i] === a) {
        this.values[i] = value;
        return;
      }
    }
    keys[2 * i] = a;
    keys[2 * i + 1] = tag;
    this.values[i] = value;
    this.size++;
  }

  delete(a: number, b: number): boolean {
    const tag = b + 1;
    const keys = this.keys;
    let i = this.home(a, b);
    for (; ; i = (i + 1) & this.mask) {
      const x = keys[2 * i + 1]!;
      if (x === 0) return false;
      if (x === tag && keys[2 * i] === a) break;
    }
    // Backward-shift deletion: move up every later entry of the run that may sit at or before the hole,
    // so lookups never need tombstones.
    let hole = i;
    for (let j = (i + 1) & this.mask; keys[2 * j + 1] !== 0; j = (j + 1) & this.mask) {
      const home = this.home(keys[2 * j]!, keys[2 * j + 1]! - 1);
      // j's entry can fill the hole when its home is not in (hole, j], cyclically
      if (((j - home) & this.mask) >= ((j - hole) & this.mask)) {
        keys[2 * hole] = keys[2 * j]!;
        keys[2 * hole + 1] = keys[2 * j + 1]!;
        this.values[hole] = this.values[j];
        hole = j;
      }
    }
    keys[2 * hole + 1] = 0;
    this.values[hole] = undefined;
    this.size--;
    return true;
  }

  private home(a: number, b: number): number {
    let h = Math.imul(a ^ Math.imul(b + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private resize(capacity: number): void {
    const { keys, values } = this;
    this.keys = new Uint32Array(capacity * 2);
    // filled in slot order: a packed array, not one with holes
    this.values = new Array<T | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < keys.length / 2; i++) if (keys[2 * i + 1] !== 0) this.set(keys[2 * i]!, keys[2 * i + 1]! - 1, values[i]!);
  }
}
