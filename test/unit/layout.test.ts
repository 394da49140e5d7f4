// The decoders read records by offset: check every offset against the BTF the compiler wrote.
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER, LAYOUTS } from '../../agent/pipeline/layout.js';
import { RingBuffer } from '../../native/index.js';
import { TRACING_LAYOUTS } from '../../tracing/compile/layout.js';
import { btfStructs } from '../helpers/btf.js';

const OBJ = 'build/bpf/process.bpf.o';

describe('record layout', () => {
  it('matches the BTF of the built process sensor', () => {
    const btf = btfStructs(OBJ);
    for (const [name, layout] of Object.entries(LAYOUTS)) {
      const actual = btf.get(name);
      expect(actual, `struct ${name} in ${OBJ}`).toBeDefined();
      expect(layout, `struct ${name}`).toEqual(actual);
    }
  });

  it('tracing config and map keys match the BTF of the generic hook object', () => {
    const btf = btfStructs('build/bpf/generic-kprobe.bpf.o');
    for (const [name, layout] of Object.entries(TRACING_LAYOUTS)) {
      expect(layout, `struct ${name}`).toEqual(btf.get(name));
    }
  });

  it('frames records the way the native drain writes them', () => {
    expect(FRAME_HEADER).toBe(RingBuffer.FRAME_HEADER);
  });
});
