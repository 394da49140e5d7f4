// An open-addressed hash table keyed by a pair of integers (a: 0..2^32-1, b: 0..2^31-1): an IPv4 prefix
// (address, length), a policy group (peer, local and direction). A bulk load looks up several per rule:
// a Map keyed by text pays for hashing tens of thousands of fresh strings, and nested Maps for two
// lookups; this hashes two integers and probes typed arrays.

const EMPTY = -1;
const MIN_CAPACITY = 64;

export class PairTable<T> {
  private as = new Uint32Array(MIN_CAPACITY);
  /** EMPTY for a free slot. */
  private bs = new Int32Array(MIN_CAPACITY).fill(EMPTY);
  private values: Array<T | undefined> = new Array<T | undefined>(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  size = 0;

  get(a: number, b: number): T | undefined {
    for (let i = this.home(a, b); ; i = (i + 1) & this.mask) {
      const x = this.bs[i]!;
      if (x === EMPTY) return undefined;
      if (x === b && this.as[i] === a) return this.values[i];
    }
  }

  /** Adds or replaces. */
  set(a: number, b: number, value: T): void {
    if ((this.size + 1) * 2 > this.bs.length) this.grow();
    let i = this.home(a, b);
    for (; this.bs[i] !== EMPTY; i = (i + 1) & this.mask) {
      if (this.bs[i] === b && this.as[i] === a) {
        this.values[i] = value;
        return;
      }
    }
    this.as[i] = a;
    this.bs[i] = b;
    this.values[i] = value;
    this.size++;
  }

  delete(a: number, b: number): boolean {
    let i = this.home(a, b);
    for (; ; i = (i + 1) & this.mask) {
      const x = this.bs[i]!;
      if (x === EMPTY) return false;
      if (x === b && this.as[i] === a) break;
    }
    // Backward-shift deletion: move up every later entry of the run that may sit at or before the hole,
    // so lookups never need tombstones.
    let hole = i;
    for (let j = (i + 1) & this.mask; this.bs[j] !== EMPTY; j = (j + 1) & this.mask) {
      const home = this.home(this.as[j]!, this.bs[j]!);
      // j's entry can fill the hole when its home is not in (hole, j], cyclically
      if (((j - home) & this.mask) >= ((j - hole) & this.mask)) {
        this.as[hole] = this.as[j]!;
        this.bs[hole] = this.bs[j]!;
        this.values[hole] = this.values[j];
        hole = j;
      }
    }
    this.bs[hole] = EMPTY;
    this.values[hole] = undefined;
    this.size--;
    return true;
  }

  private home(a: number, b: number): number {
    let h = Math.imul(a ^ Math.imul(b + 1, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private grow(): void {
    const { as, bs, values } = this;
    const capacity = bs.length * 2;
    this.as = new Uint32Array(capacity);
    this.bs = new Int32Array(capacity).fill(EMPTY);
    this.values = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < bs.length; i++) if (bs[i] !== EMPTY) this.set(as[i]!, bs[i]!, values[i]!);
  }
}
