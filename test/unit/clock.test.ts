import { describe, expect, it } from 'vitest';
import { WallClock } from '../../agent/pipeline/clock.js';

function reference(boot: bigint, offset: bigint): string {
  const t = boot + offset;
  const sec = t / 1_000_000_000n;
  const ns = t % 1_000_000_000n;
  return new Date(Number(sec) * 1000).toISOString().slice(0, 20) + ns.toString().padStart(9, '0') + 'Z';
}

describe('WallClock', () => {
  const offset = 1_790_000_000_123_456_789n;
  const clock = new WallClock(offset);
  it.each([0n, 1n, 999_999_999n, 1_000_000_000n, 4_294_967_296n, 86_400_000_000_123n, 3n * 365n * 86_400n * 1_000_000_000n + 7n])(
    'formats boot time %s exactly, with nanoseconds',
    (boot) => {
      const hi = Number(boot >> 32n);
      const lo = Number(boot & 0xffffffffn);
      expect(clock.formatHiLo(hi, lo)).toBe(reference(boot, offset));
    },
  );
  it('formats float ns (procfs start times)', () => {
    expect(clock.formatNs(1_500_000_000)).toBe(reference(1_500_000_000n, offset));
  });
});
