// An open-addressed hash table keyed by an IPv4 prefix as two numbers (address, length). A bulk load
// looks up one prefix per rule: a Map keyed by the prefix's text pays for hashing tens of thousands of
// fresh strings; this hashes two integers and probes typed arrays.

const EMPTY = -1;
const MIN_CAPACITY = 64;

export class V4PrefixTable<T> {
  private addrs = new Uint32Array(MIN_CAPACITY);
  /** Prefix length 0..32, EMPTY for a free slot. */
  private lens = new Int8Array(MIN_CAPACITY).fill(EMPTY);
  private values: Array<T | undefined> = new Array<T | undefined>(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  size = 0;

  get(addr: number, len: number): T | undefined {
    for (let i = this.home(addr, len); ; i = (i + 1) & this.mask) {
      const l = this.lens[i]!;
      if (l === EMPTY) return undefined;
      if (l === len && this.addrs[i] === addr) return this.values[i];
    }
  }

  /** Adds or replaces. */
  set(addr: number, len: number, value: T): void {
    if ((this.size + 1) * 2 > this.lens.length) this.grow();
    let i = this.home(addr, len);
    for (; this.lens[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.lens[i] === len && this.addrs[i] === addr) {
        this.values[i] = value;
        return;
      }
    }
    this.addrs[i] = addr;
    this.lens[i] = len;
    this.values[i] = value;
    this.size++;
  }

  delete(addr: number, len: number): boolean {
    let i = this.home(addr, len);
    for (; ; i = (i + 1) & this.mask) {
      const l = this.lens[i]!;
      if (l === EMPTY) return false;
      if (l === len && this.addrs[i] === addr) break;
    }
    // Backward-shift deletion: move up every later entry of the run that may sit at or before the hole,
    // so lookups never need tombstones.
    let hole = i;
    for (let j = (i + 1) & this.mask; this.lens[j] !== EMPTY; j = (j + 1) & this.mask) {
      const home = this.home(this.addrs[j]!, this.lens[j]!);
      // j's entry can fill the hole when its home is not in (hole, j], cyclically
      if (((j - home) & this.mask) >= ((j - hole) & this.mask)) {
        this.addrs[hole] = this.addrs[j]!;
        this.lens[hole] = this.lens[j]!;
        this.values[hole] = this.values[j];
        hole = j;
      }
    }
    this.lens[hole] = EMPTY;
    this.values[hole] = undefined;
    this.size--;
    return true;
  }

  private home(addr: number, len: number): number {
    let h = Math.imul(addr ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private grow(): void {
    const { addrs, lens, values } = this;
    const capacity = lens.length * 2;
    this.addrs = new Uint32Array(capacity);
    this.lens = new Int8Array(capacity).fill(EMPTY);
    this.values = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < lens.length; i++) if (lens[i] !== EMPTY) this.set(addrs[i]!, lens[i]!, values[i]!);
  }
}
