import { describe, expect, it } from 'vitest';
import { PairTable } from '../../network/util/pair-table.js';

describe('PairTable', () => {
  it('agrees with a Map over random adds, replaces and deletes (collisions, growth, reserve, backward-shift deletes)', () => {
    const table = new PairTable<number>();
    const ref = new Map<string, number>();
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    // few distinct keys, so runs of collisions form and deletes land inside them
    for (let step = 0; step < 20000; step++) {
      const a = (rand(300) * 0x01000193) >>> 0; // over all 32 bits
      const b = rand(10) === 0 ? rand(2 ** 31 - 1) : rand(33);
      const k = `${a}/${b}`;
      if (step === 10000) table.reserve(50000); // a rehash into a bigger table keeps every entry
      if (rand(3) === 0) expect(table.delete(a, b), k).toBe(ref.delete(k));
      else {
        table.set(a, b, step);
        ref.set(k, step);
      }
      if (step % 500 === 0) {
        expect(table.size).toBe(ref.size);
        for (const [key, v] of ref) {
          const [a, b] = key.split('/').map(Number) as [number, number];
          expect(table.get(a, b), key).toBe(v);
        }
      }
    }
    expect(table.size).toBe(ref.size);
    expect(table.get(0xffffffff, 2 ** 31 - 2)).toBeUndefined();
  });
});
