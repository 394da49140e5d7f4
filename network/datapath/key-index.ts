// An index of the keys packed in one buffer (n keys of `size` bytes back to back): which position holds
// a given key. Open addressing over an Int32Array, so indexing 50,000 keys makes no string and no
// Map entry per key (the datapath checks every bulk load for duplicate keys with it).

export class PackedKeyIndex {
  private readonly slots: Int32Array;
  /** Each slot's full hash: bytes are compared only when it is equal (a native call each). */
  private readonly hashes: Int32Array;
  private readonly mask: number;

  constructor(private readonly keys: Buffer, private readonly size: number, count: number) {
    let cap = 16;
    while (cap < count * 2) cap *= 2;
    this.slots = new Int32Array(cap); // position + 1; 0 = empty
    this.hashes = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Adds the key at `pos`; returns the position of an equal key added before (and adds nothing), or -1. */
  add(pos: number): number {
    const at = pos * this.size;
    const h = this.hash(this.keys, at);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const held = this.slots[s]!;
      if (held === 0) {
        this.slots[s] = pos + 1;
        this.hashes[s] = h;
        return -1;
      }
      if (this.hashes[s] === h && this.keys.compare(this.keys, at, at + this.size, (held - 1) * this.size, held * this.size) === 0) return held - 1;
    }
  }

  /** The position of `key` (the bytes at key[at..at+size)), or -1. */
  find(key: Buffer, at = 0): number {
    const h = this.hash(key, at);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const held = this.slots[s]!;
      if (held === 0) return -1;
      if (this.hashes[s] === h && key.compare(this.keys, (held - 1) * this.size, held * this.size, at, at + this.size) === 0) return held - 1;
    }
  }

  /** FNV-1a over the key's bytes, with a final mix so that the low bits (the slot) use all of them. */
  private hash(b: Buffer, at: number): number {
    let h = 0x811c9dc5;
    for (let i = at; i < at + this.size; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h | 0;
  }
}
