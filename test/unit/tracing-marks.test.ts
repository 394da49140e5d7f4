// matchBinaries / followForks marks: the name table the kernel looks paths up in, and the seeding
// of processes that already run. In-memory maps stand in for the BPF maps.
import { describe, expect, it } from 'vitest';
import type { BpfMap } from '../../native/index.js';
import type { MarkRequest } from '../../tracing/compile/compile.js';
import { BIN_KEY, BinKind, MARKS_CFG } from '../../tracing/compile/layout.js';
import { ProcessMarks, type LiveProcess } from '../../tracing/sensor/marks.js';

class MemMap {
  readonly m = new Map<string, Buffer>();
  keys(): Buffer[] {
    return [...this.m.keys()].map((k) => Buffer.from(k, 'hex'));
  }
  lookup(k: Buffer): Buffer | null {
    return this.m.get(k.toString('hex')) ?? null;
  }
  update(k: Buffer, v: Buffer): void {
    this.m.set(k.toString('hex'), Buffer.from(v));
  }
  delete(k: Buffer): boolean {
    return this.m.delete(k.toString('hex'));
  }
}

/** name table as "kind:path" → mask */
function table(names: MemMap): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const [hex, v] of names.m) {
    const k = Buffer.from(hex, 'hex');
    const kind = k.readUInt32BE(BIN_KEY.kind);
    let path = k.subarray(BIN_KEY.path, BIN_KEY.path + (k.readUInt32LE(BIN_KEY.prefixlen) - 32) / 8);
    if (kind === BinKind.Postfix) path = Buffer.from(path).reverse();
    out[`${kind}:${path.toString().replace('\0', '')}`] = v.readBigUInt64LE(0);
  }
  return out;
}

const bin = (operator: 'In' | 'Prefix' | 'Postfix' | 'NotIn', values: string[], followChildren = false): MarkRequest =>
  ({ kind: 'binary', offset: 0, filter: { operator, values, followChildren } });

describe('process marks', () => {
  const maps = { names: new MemMap(), cfg: new MemMap(), procs: new MemMap() };
  const init: LiveProcess = { pid: 1, binary: '/sbin/init', parent: null, exited: false };
  const sh: LiveProcess = { pid: 10, binary: '/usr/bin/bash', parent: init, exited: false };
  const cat: LiveProcess = { pid: 11, binary: '/usr/bin/cat', parent: sh, exited: false };
  const marks = new ProcessMarks(maps as unknown as { names: BpfMap; cfg: BpfMap; procs: BpfMap }, () => [init, sh, cat]);
  const bitsOf = (pid: number): bigint => {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(pid);
    return maps.procs.lookup(k)?.readBigUInt64LE(0) ?? 0n;
  };

  it('gives a prefix entry the bits of every shorter prefix, since the LPM lookup returns one entry', () => {
    const [usr, usrBin, bash, dotSh] = marks.add([
      bin('Prefix', ['/usr/']), bin('Prefix', ['/usr/bin/']), bin('In', ['/usr/bin/bash']), bin('Postfix', ['sh'], true),
    ]);
    expect(table(maps.names)).toEqual({
      [`${BinKind.Prefix}:/usr/`]: usr,
      [`${BinKind.Prefix}:/usr/bin/`]: usr! | usrBin!,
      [`${BinKind.Exact}:/usr/bin/bash`]: bash,
      [`${BinKind.Postfix}:sh`]: dotSh,
    });
    // Seeded from the cache: bash matches all four; cat both prefixes, and the postfix through its parent.
    expect(bitsOf(10)).toBe(usr! | usrBin! | bash! | dotSh!);
    expect(bitsOf(11)).toBe(usr! | usrBin! | dotSh!);
    expect(bitsOf(1)).toBe(0n);
    const cfg = maps.cfg.lookup(Buffer.alloc(4))!;
    expect(cfg.readBigUInt64LE(MARKS_CFG.keep_on_exec)).toBe(dotSh); // only followChildren survives exec
    expect(cfg.readUInt32LE(MARKS_CFG.active)).toBe(1);

    marks.release([usr!, usrBin!, bash!, dotSh!]);
    expect(maps.names.m.size).toBe(0);
    expect(bitsOf(10)).toBe(0n);
    expect(maps.cfg.lookup(Buffer.alloc(4))!.readUInt32LE(MARKS_CFG.active)).toBe(0);
  });

  it('marks followForks pids and their descendants, and refuses a 65th bit', () => {
    const [b] = marks.add([{ kind: 'pids', offset: 0, pids: [10], nsPid: false }]);
    expect([bitsOf(1), bitsOf(10), bitsOf(11)]).toEqual([0n, b, b]);
    expect(() => marks.add(Array.from({ length: 64 }, () => bin('In', ['/x'])))).toThrow(/at most 64/);
  });
});
