// The decoders read records by offset: check every offset against the BTF the compiler wrote.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER, LAYOUTS } from '../../agent/pipeline/layout.js';
import { RingBuffer } from '../../native/index.js';

const OBJ = 'build/bpf/process.bpf.o';

/** struct name → { member: byte offset, $size } from `bpftool btf dump format raw`. */
function btfStructs(obj: string): Map<string, Record<string, number>> {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw'], { encoding: 'utf8' });
  const out = new Map<string, Record<string, number>>();
  let cur: Record<string, number> | null = null;
  for (const line of text.split('\n')) {
    const s = /^\[\d+\] STRUCT '(\w+)' size=(\d+)/.exec(line);
    if (s) {
      cur = { $size: Number(s[2]) };
      out.set(s[1]!, cur);
      continue;
    }
    const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (m && cur) cur[m[1]!] = Number(m[2]) / 8;
    else if (!line.startsWith('\t')) cur = null;
  }
  return out;
}

describe('record layout', () => {
  it('matches the BTF of the built process sensor', () => {
    const btf = btfStructs(OBJ);
    for (const [name, layout] of Object.entries(LAYOUTS)) {
      const actual = btf.get(name);
      expect(actual, `struct ${name} in ${OBJ}`).toBeDefined();
      expect(layout, `struct ${name}`).toEqual(actual);
    }
  });

  it('frames records the way the native drain writes them', () => {
    expect(FRAME_HEADER).toBe(RingBuffer.FRAME_HEADER);
  });
});
