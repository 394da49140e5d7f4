// The native layer against the real kernel: needs root and build/bpf/native_test.bpf.o
// (`npm run build:native && make -C bpf`). Tests skip only where this kernel lacks the feature.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  bootTimeOffsetNs,
  BpfError,
  BpfMap,
  BpfObject,
  forEachFrame,
  possibleCpus,
  probeFeatures,
  RingBuffer,
  type FeatureReport,
} from '../../native/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OBJ = join(ROOT, 'build', 'bpf', 'native_test.bpf.o');
const MAGIC = 0x5a11ade5;
// Per-CPU hit counters (enum in native_test.bpf.c).
const HIT_TP = 0, HIT_RAW_TP = 1, HIT_UPROBE = 2, HIT_FORK = 3;

const features: FeatureReport = probeFeatures();

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** n counters map entries packed for updateBatchFlat: keys first, first + 1, ..., each value value(i). */
function packedCounters(n: number, first: number, value: (i: number) => bigint): { keys: Buffer; values: Buffer } {
  const keys = Buffer.alloc(n * 4);
  const values = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(first + i, i * 4);
    values.writeBigUInt64LE(value(i), i * 8);
  }
  return { keys, values };
}

/** Runs fn and returns the BpfError it throws (failing the test if it throws anything else). */
function bpfError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    const err = e as BpfError;
    expect(err.errno).toBeGreaterThan(0);
    expect(typeof err.code).toBe('string');
    expect(typeof err.op).toBe('string');
    expect(typeof err.libbpfLog).toBe('string');
    return err;
  }
  throw new Error('expected a BpfError, nothing was thrown');
}

/** Opens the test object configured for this process. */
function openTest(): BpfObject {
  if (!existsSync(OBJ)) throw new Error(`${OBJ} is missing: run \`make -C bpf\``);
  const obj = BpfObject.open(OBJ);
  obj.setConst('cfg_magic', u32(MAGIC));
  obj.setConst('cfg_target_tgid', u32(process.pid));
  return obj;
}

/** getppid(2) from this process: Node does not cache it. */
function getppid(times: number): void {
  for (let i = 0; i < times; i++) void process.ppid;
}

describe('BpfObject open / configure / load', () => {
  it('names the missing file in an ENOENT BpfError', () => {
    const err = bpfError(() => BpfObject.open('/nonexistent/palisade.bpf.o'));
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBe(2);
    expect(err.op).toBe('open');
    expect(err.message).toContain('/nonexistent/palisade.bpf.o');
    expect(err.name).toBe('BpfError');
  });

  it('rejects a file that is not a BPF ELF object', () => {
    const err = bpfError(() => BpfObject.open(join(ROOT, 'package.json')));
    expect(err.op).toBe('open');
    expect(err.message).toContain('package.json');
    expect(err.libbpfLog).not.toBe('');
  });

  it('checks setConst sizes and names, before load only', () => {
    const obj = openTest();
    try {
      const wrong = bpfError(() => obj.setConst('cfg_magic', u64(1)));
      expect(wrong.code).toBe('EINVAL');
      expect(wrong.message).toMatch(/expected 4 bytes, got 8/);
      const unknown = bpfError(() => obj.setConst('cfg_nope', u32(1)));
      expect(unknown.code).toBe('ENOENT');
      expect(unknown.message).toContain('cfg_magic'); // lists the globals it knows
      expect(() => obj.setConst('cfg_magic', u32(7))).not.toThrow();
      obj.load();
      expect(bpfError(() => obj.setConst('cfg_magic', u32(7))).message).toMatch(/before load/);
      expect(bpfError(() => obj.setAutoload('kprobe_unlink', true)).message).toMatch(/before load/);
      // The constant landed in .rodata.
      const rodata = obj.map('.rodata');
      const v = rodata.lookup(u32(0));
      expect(v).not.toBeNull();
      expect(v!.includes(u32(7))).toBe(true);
    } finally {
      obj.close();
    }
  });

  it('lists programs and maps with types, fds and autoload', () => {
    const obj = openTest();
    try {
      const before = obj.programs();
      expect(before.find((p) => p.name === 'produce')).toMatchObject({
        section: 'tp/syscalls/sys_enter_getppid',
        type: 'tracepoint',
        fd: -1,
        autoload: true,
      });
      expect(before.find((p) => p.name === 'kprobe_unlink')).toMatchObject({ type: 'kprobe', autoload: false });
      expect(bpfError(() => obj.map('counters')).message).toMatch(/load\(\)/);
      obj.load();
      expect(obj.loaded).toBe(true);
      const progs = obj.programs();
      expect(progs.find((p) => p.name === 'produce')!.fd).toBeGreaterThan(0);
      expect(progs.find((p) => p.name === 'on_fork')!.type).toBe('tracing');
      expect(progs.find((p) => p.name === 'fentry_unlink')!.fd).toBe(-1);
      const maps = obj.maps();
      expect(maps.find((m) => m.name === 'counters')).toMatchObject({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8192 });
      expect(maps.find((m) => m.name === 'hits')).toMatchObject({ type: 'percpu_array', keySize: 4, valueSize: 8 });
      expect(maps.find((m) => m.name === 'events')).toMatchObject({ type: 'ringbuf', maxEntries: 256 * 1024 });
      for (const m of maps) expect(m.fd).toBeGreaterThan(0);
      const missing = bpfError(() => obj.attach('nope'));
      expect(missing.code).toBe('ENOENT');
      expect(missing.message).toContain('produce');
      expect(bpfError(() => obj.map('nope')).message).toContain('counters');
      const notLoaded = bpfError(() => obj.attach('kprobe_unlink'));
      expect(notLoaded.message).toMatch(/not loaded/);
    } finally {
      obj.close();
    }
  });

  it('applies setMapMaxEntries', () => {
    const obj = openTest();
    try {
      obj.setMapMaxEntries('counters', 16);
      obj.load();
      const m = obj.map('counters');
      expect(m.info.maxEntries).toBe(16);
      for (let i = 0; i < 16; i++) m.update(u32(i), u64(i));
      const full = bpfError(() => m.update(u32(99), u64(1)));
      expect(full.code).toBe('E2BIG');
      expect(full.op).toBe('map.update');
    } finally {
      obj.close();
    }
  });

  it('loads while signals keep arriving (node --cpu-prof sends SIGPROF every 20 µs)', () => {
    // The verifier returns EAGAIN when a signal is pending: the agent's largest object, three times.
    const dir = mkdtempSync(join(tmpdir(), 'palisade-prof-'));
    try {
      const script =
        `import { BpfObject } from ${JSON.stringify(join(ROOT, 'dist', 'native', 'index.js'))};` +
        `for (let i = 0; i < 3; i++) { const o = BpfObject.open(${JSON.stringify(join(ROOT, 'build', 'bpf', 'process.bpf.o'))}); o.load(); o.close(); }` +
        `console.log('loaded');`;
      const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '20', '--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('loaded');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('BpfMap', () => {
  let obj: BpfObject;
  let counters: BpfMap;
  beforeAll(() => {
    obj = openTest();
    obj.load();
    counters = obj.map('counters');
  });
  afterAll(() => obj?.close());

  it('round-trips update / lookup / delete / keys', () => {
    expect(counters.lookup(u32(1))).toBeNull();
    counters.update(u32(1), u64(111n));
    counters.update(u32(2), u64(222n), 'noexist');
    expect(counters.lookup(u32(1))!.readBigUInt64LE(0)).toBe(111n);
    expect(bpfError(() => counters.update(u32(2), u64(0), 'noexist')).code).toBe('EEXIST');
    expect(bpfError(() => counters.update(u32(3), u64(0), 'exist')).code).toBe('ENOENT');
    counters.update(u32(2), u64(333n), 'exist');
    expect(counters.lookup(u32(2))!.readBigUInt64LE(0)).toBe(333n);
    const keys = counters.keys().map((k) => k.readUInt32LE(0)).sort();
    expect(keys).toEqual([1, 2]);
    expect(counters.delete(u32(1))).toBe(true);
    expect(counters.delete(u32(1))).toBe(false);
    expect(counters.delete(u32(2))).toBe(true);
    expect(counters.keys()).toEqual([]);
  });

  it('rejects wrong key and value sizes without hurting the process', () => {
    const k = bpfError(() => counters.lookup(Buffer.alloc(3)));
    expect(k.code).toBe('EINVAL');
    expect(k.op).toBe('map.lookup');
    expect(k.message).toMatch(/key must be 4 bytes, got 3/);
    const v = bpfError(() => counters.update(u32(1), Buffer.alloc(4)));
    expect(v.message).toMatch(/value must be 8 bytes, got 4/);
    expect(bpfError(() => counters.delete(Buffer.alloc(0))).message).toMatch(/got 0/);
    expect(() => counters.update(u32(1), 'x' as unknown as Buffer)).toThrow(TypeError);
    expect(() => counters.update(u32(1), u64(1), 'sometimes' as 'any')).toThrow(TypeError);
    // still alive and working
    counters.update(u32(9), u64(9));
    expect(counters.lookup(u32(9))!.readBigUInt64LE(0)).toBe(9n);
    counters.delete(u32(9));
  });

  it('batch-updates and batch-reads a hash map', () => {
    const n = 300;
    const keys = Array.from({ length: n }, (_, i) => u32(1000 + i));
    const values = Array.from({ length: n }, (_, i) => u64(BigInt(i) * 3n));
    counters.updateBatch(keys, values);
    const got = counters.lookupBatch();
    expect(got.keys.length).toBe(n);
    expect(got.values.length).toBe(n);
    const seen = new Map<number, bigint>();
    got.keys.forEach((k, i) => seen.set(k.readUInt32LE(0), got.values[i]!.readBigUInt64LE(0)));
    for (let i = 0; i < n; i++) expect(seen.get(1000 + i)).toBe(BigInt(i) * 3n);
    expect(bpfError(() => counters.updateBatch([u32(1)], [])).code).toBe('EINVAL');
    expect(bpfError(() => counters.updateBatch([u32(1)], [u32(1)])).message).toMatch(/value 0 must be 8 bytes, got 4/);
    for (const k of keys) counters.delete(k);
    expect(counters.lookupBatch().keys).toEqual([]);
  });

  it('batch-updates from packed key and value buffers; noexist refuses a key that is there', () => {
    const n = 200;
    const { keys, values } = packedCounters(n, 2000, (i) => BigInt(i) * 5n);
    counters.updateBatchFlat(keys, values, 'noexist');
    for (const i of [0, 77, n - 1]) expect(counters.lookup(u32(2000 + i))!.readBigUInt64LE(0)).toBe(BigInt(i) * 5n);
    // the kernel's batch takes no BPF_NOEXIST: the addon writes such a batch element by element
    expect(bpfError(() => counters.updateBatchFlat(keys.subarray(0, 8), values.subarray(0, 16), 'noexist')).code).toBe('EEXIST');
    counters.updateBatchFlat(keys.subarray(0, 4), u64(42)); // 'any' overwrites
    expect(counters.lookup(u32(2000))!.readBigUInt64LE(0)).toBe(42n);
    expect(bpfError(() => counters.updateBatchFlat(keys.subarray(0, 6), values.subarray(0, 8))).code).toBe('EINVAL');
    expect(bpfError(() => counters.updateBatchFlat(keys.subarray(0, 8), values.subarray(0, 8))).message).toMatch(/not n keys of 4 and n values of 8 bytes/);
    counters.updateBatchFlat(Buffer.alloc(0), Buffer.alloc(0)); // nothing to write
    for (let i = 0; i < n; i++) counters.delete(u32(2000 + i));
    expect(counters.lookupBatch().keys).toEqual([]);
  });

  it('a batch large enough to be written from two threads lands whole, each key with its own value', () => {
    const n = 6000;
    const { keys, values } = packedCounters(n, 10000, (i) => BigInt(i) * 7n + 1n);
    counters.updateBatchFlat(keys, values);
    const got = counters.lookupBatch();
    expect(got.keys).toHaveLength(n);
    const seen = new Map<number, bigint>();
    got.keys.forEach((k, i) => seen.set(k.readUInt32LE(0), got.values[i]!.readBigUInt64LE(0)));
    for (let i = 0; i < n; i++) expect(seen.get(10000 + i)).toBe(BigInt(i) * 7n + 1n);
    for (let i = 0; i < n; i++) counters.delete(u32(10000 + i));
    expect(counters.lookupBatch().keys).toEqual([]);
  });

  it('reads and writes per-CPU values', () => {
    const hits = obj.map('hits');
    const cpus = possibleCpus();
    expect(hits.perCpu).toBe(true);
    expect(hits.cpus).toBe(cpus);
    expect(hits.perCpuValueSize).toBe(8);
    expect(hits.valueBufferSize).toBe(8 * cpus);
    const key = u32(7); // unused by the programs
    const value = Buffer.alloc(hits.valueBufferSize);
    for (let c = 0; c < cpus; c++) value.writeBigUInt64LE(BigInt(10 + c), c * 8);
    hits.update(key, value);
    const back = hits.perCpuValues(key)!;
    expect(back.length).toBe(cpus);
    back.forEach((b, c) => expect(b.readBigUInt64LE(0)).toBe(BigInt(10 + c)));
    let sum = 0n;
    for (let c = 0; c < cpus; c++) sum += BigInt(10 + c);
    expect(hits.sumPerCpuU64(key)).toBe(sum);
    const wrong = bpfError(() => hits.update(key, u64(1)));
    if (cpus > 1) expect(wrong.message).toMatch(new RegExp(`8 per CPU x ${cpus} possible CPUs\\), got 8`));
    // batch read of a per-CPU array: every index, one value buffer per key
    const all = hits.lookupBatch();
    expect(all.keys.length).toBe(8);
    expect(all.values.every((v) => v.length === hits.valueBufferSize)).toBe(true);
    expect(() => counters.sumPerCpuU64(u32(0))).toThrow(TypeError);
  });

  it('pins, reopens from the pin and unpins', () => {
    const path = `/sys/fs/bpf/palisade-native-test-${process.pid}`;
    counters.update(u32(5), u64(55n));
    counters.pin(path);
    try {
      const pinned = BpfMap.fromPinned(path);
      expect(pinned.info).toMatchObject({ name: 'counters', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8192 });
      expect(pinned.lookup(u32(5))!.readBigUInt64LE(0)).toBe(55n);
      pinned.close();
      expect(bpfError(() => pinned.lookup(u32(5))).code).toBe('EBADF');
      pinned.close(); // idempotent
    } finally {
      counters.unpin(path);
      counters.delete(u32(5));
    }
    const gone = bpfError(() => BpfMap.fromPinned(path));
    expect(gone.code).toBe('ENOENT');
    expect(gone.message).toContain(path);
    expect(bpfError(() => counters.unpin(path)).code).toBe('ENOENT');
  });

  it('throws on use after the object is closed', () => {
    const o = openTest();
    o.load();
    const m = o.map('counters');
    m.update(u32(1), u64(1));
    o.close();
    o.close(); // idempotent
    const err = bpfError(() => m.lookup(u32(1)));
    expect(err.code).toBe('EBADF');
    expect(err.message).toMatch(/after its object was closed/);
    expect(bpfError(() => o.programs()).code).toBe('EBADF');
    expect(() => new RingBuffer(m)).toThrow(TypeError); // not a ringbuf map
  });
});

interface Rec {
  magic: number;
  tgid: number;
  seq: bigint;
  idx: number;
  len: number;
  frameLen: number;
}

/** Decodes and checks every frame: framing, length, fill pattern, zero padding. */
function decodeFrames(buf: Buffer, length: number): Rec[] {
  const out: Rec[] = [];
  let off = 0;
  while (off < length) {
    const len = buf.readUInt32LE(off);
    expect(buf.readUInt32LE(off + 4)).toBe(0);
    const r = buf.subarray(off + 8, off + 8 + len);
    const rec: Rec = {
      magic: r.readUInt32LE(0),
      tgid: r.readUInt32LE(4),
      seq: r.readBigUInt64LE(8),
      idx: r.readUInt32LE(16),
      len: r.readUInt32LE(20),
      frameLen: len,
    };
    for (let j = 0; j < len - 24; j++) if (r[24 + j] !== ((rec.idx + j) & 0xff)) throw new Error(`bad fill at ${j}`);
    const padded = (len + 7) & ~7;
    for (let p = len; p < padded; p++) expect(buf[off + 8 + p]).toBe(0);
    out.push(rec);
    off += 8 + padded;
  }
  expect(off).toBe(length);
  return out;
}

describe('RingBuffer', () => {
  const PER_HIT = 10; // indexes 3 and 7 are reserved then discarded: 8 records per hit
  const KEPT = Array.from({ length: PER_HIT }, (_, i) => i).filter((i) => i % 4 !== 3);
  let obj: BpfObject;
  let ring: RingBuffer;
  let seq = 0n; // next expected per-hit sequence number

  beforeAll(() => {
    obj = openTest();
    obj.load();
    obj.map('nrecords').update(u32(0), u32(PER_HIT));
    ring = new RingBuffer(obj.map('events'));
    obj.attach('produce'); // auto: tp/syscalls/sys_enter_getppid (mounts tracefs if needed)
  });
  afterAll(() => {
    ring?.close();
    obj?.close();
  });

  function expectHits(recs: Rec[], hits: number): void {
    expect(recs.length).toBe(hits * KEPT.length);
    for (let h = 0; h < hits; h++) {
      for (let k = 0; k < KEPT.length; k++) {
        const r = recs[h * KEPT.length + k]!;
        const idx = KEPT[k]!;
        expect(r.magic).toBe(MAGIC);
        expect(r.tgid).toBe(process.pid);
        expect(r.seq).toBe(seq);
        expect(r.idx).toBe(idx);
        expect(r.len).toBe(24 + ((Number(seq & 0xffffffffn) * 7 + idx * 13) % 41));
        expect(r.frameLen).toBe(r.len);
      }
      seq++;
    }
  }

  it('drains records produced by this process’s syscalls', () => {
    const out = Buffer.alloc(1 << 20);
    expect(ring.drain(out)).toBe(0);
    expect(ring.size).toBe(256 * 1024);
    getppid(50);
    expect(ring.available()).toBeGreaterThan(0);
    const n = ring.drain(out);
    expectHits(decodeFrames(out, n), 50);
    expect(ring.available()).toBe(0);
    expect(ring.drain(out)).toBe(0);
    expect(obj.map('hits').sumPerCpuU64(u32(HIT_TP))).toBe(50n);
    let viaHelper = 0;
    forEachFrame(out, n, (rec) => {
      expect(rec.readUInt32LE(0)).toBe(MAGIC);
      viaHelper++;
    });
    expect(viaHelper).toBe(50 * KEPT.length);
  });

  it('loses nothing when a small buffer forces partial drains', () => {
    getppid(200);
    const small = Buffer.alloc(100); // one frame (<= 72 bytes) at a time
    const all: Buffer[] = [];
    let total = 0;
    for (let calls = 0; calls < 100_000; calls++) {
      const n = ring.drain(small);
      if (n === 0) break;
      expect(n).toBeLessThanOrEqual(small.length);
      all.push(Buffer.from(small.subarray(0, n)));
      total += n;
    }
    expectHits(decodeFrames(Buffer.concat(all), total), 200);
    expect(ring.available()).toBe(0);
  });

  it('throws ENOSPC when the next record cannot fit, and keeps it', () => {
    getppid(1);
    const err = bpfError(() => ring.drain(Buffer.alloc(16)));
    expect(err.code).toBe('ENOSPC');
    expect(err.op).toBe('ringbuf.drain');
    const out = Buffer.alloc(4096);
    expectHits(decodeFrames(out, ring.drain(out)), 1);
  });

  it('stops draining after close', () => {
    const o = openTest();
    o.load();
    const r = new RingBuffer(o.map('events'));
    r.close();
    r.close();
    expect(bpfError(() => r.drain(Buffer.alloc(64))).code).toBe('EBADF');
    o.close();
  });
});

describe('attach', () => {
  let obj: BpfObject;
  let hits: BpfMap;
  const count = (i: number): bigint => hits.sumPerCpuU64(u32(i)) ?? 0n;

  beforeAll(() => {
    obj = openTest();
    obj.load();
    hits = obj.map('hits');
  });
  afterAll(() => obj?.close());

  it('raw_tp: counts while attached, destroy is idempotent', () => {
    const link = obj.attach('raw_sys_enter', { kind: 'raw_tp', name: 'sys_enter' });
    expect(link.program).toBe('raw_sys_enter');
    expect(link.kind).toBe('raw_tp');
    const before = count(HIT_RAW_TP);
    getppid(20);
    expect(count(HIT_RAW_TP) - before).toBeGreaterThanOrEqual(20n);
    link.destroy();
    link.destroy();
    expect(link.destroyed).toBe(true);
    const after = count(HIT_RAW_TP);
    getppid(20);
    expect(count(HIT_RAW_TP)).toBe(after);
  });

  it('tracepoint: explicit category/name', () => {
    const link = obj.attach('produce', { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_getppid' });
    const before = count(HIT_TP);
    getppid(5);
    expect(count(HIT_TP) - before).toBe(5n);
    link.destroy();
    const bad = bpfError(() => obj.attach('produce', { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_nope' }));
    expect(bad.op).toBe('attach');
    expect(bad.message).toContain('syscalls/sys_enter_nope');
  });

  it('uprobe: libc getppid by symbol, for this pid', () => {
    const libc = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((l) => l.split(/\s+/)[5] ?? '')
      .find((p) => /\/libc\.so\.6$/.test(p));
    expect(libc, 'node is linked against glibc').toBeTruthy();
    const link = obj.attach('uprobe_hit', { kind: 'uprobe', binary: libc!, symbol: 'getppid', pid: process.pid });
    const before = count(HIT_UPROBE);
    getppid(7);
    expect(count(HIT_UPROBE) - before).toBe(7n);
    link.destroy();
    const missing = bpfError(() => obj.attach('uprobe_hit', { kind: 'uprobe', binary: '/nonexistent/libx.so', symbol: 'f' }));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain('/nonexistent/libx.so');
    const noTarget = bpfError(() => obj.attach('uprobe_hit'));
    expect(noTarget.message).toMatch(/explicit AttachSpec/);
  });

  it('tp_btf: auto attach from the section', () => {
    const link = obj.attach('on_fork');
    const before = count(HIT_FORK);
    spawnSync('true');
    expect(count(HIT_FORK) - before).toBeGreaterThanOrEqual(1n);
    link.destroy();
  });

  it('cgroup: attach to a cgroup v2 directory and detach', () => {
    const root = features.cgroup2Path;
    expect(root, 'cgroup v2 is mounted').toBeTruthy();
    const dir = join(root!, `palisade-native-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const link = obj.attach('allow_connect4', { kind: 'cgroup', cgroupPath: dir });
      expect(link.kind).toBe('cgroup');
      const shown = execFileSync('bpftool', ['cgroup', 'show', dir], { encoding: 'utf8' });
      expect(shown).toContain('allow_connect4');
      link.destroy();
      expect(execFileSync('bpftool', ['cgroup', 'show', dir], { encoding: 'utf8' })).not.toContain('allow_connect4');
    } finally {
      rmdirSync(dir);
    }
    const missing = bpfError(() => obj.attach('allow_connect4', { kind: 'cgroup', cgroupPath: dir }));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain(dir);
  });

  it('tc: ingress filter on a veth, detached by destroy', () => {
    const name = `palt${process.pid % 100000}`;
    execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    try {
      const ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
      const link = obj.attach('tc_pass', { kind: 'tc', ifindex, direction: 'ingress' });
      expect(execFileSync('tc', ['filter', 'show', 'dev', name, 'ingress'], { encoding: 'utf8' })).toContain('tc_pass');
      // a second filter on the same hook: EEXIST on the clsact qdisc is fine
      const second = obj.attach('tc_pass', { kind: 'tc', ifindex, direction: 'ingress', priority: 7 });
      second.destroy();
      link.destroy();
      link.destroy();
      expect(execFileSync('tc', ['filter', 'show', 'dev', name, 'ingress'], { encoding: 'utf8' })).not.toContain('tc_pass');
    } finally {
      execFileSync('ip', ['link', 'del', name]);
    }
  });

  it('close() destroys the links made from the object', () => {
    const o = openTest();
    o.load();
    const h = o.map('hits');
    const link = o.attach('raw_sys_enter', { kind: 'raw_tp', name: 'sys_enter' });
    o.close();
    expect(link.destroyed).toBe(true);
    link.destroy(); // still fine
    expect(bpfError(() => h.lookup(u32(HIT_RAW_TP))).code).toBe('EBADF');
  });

  it('kprobe: a clear message on a kernel without kprobes', () => {
    const o = openTest();
    try {
      o.setAutoload('kprobe_unlink', true);
      o.load();
      if (features.attach.kprobe?.ok) {
        o.attach('kprobe_unlink').destroy();
        return;
      }
      const auto = bpfError(() => o.attach('kprobe_unlink'));
      expect(auto.code).toBe('EOPNOTSUPP');
      expect(auto.op).toBe('attach');
      expect(auto.message).toContain('kprobe attach to do_unlinkat failed: this kernel has no kprobe support (CONFIG_KPROBES unset)');
      const explicit = bpfError(() => o.attach('kprobe_unlink', { kind: 'kprobe', func: 'do_unlinkat' }));
      expect(explicit.message).toContain('kprobe attach to do_unlinkat failed: this kernel has no kprobe support');
    } finally {
      o.close();
    }
  });

  it('fentry and lsm: load errors say what this kernel refuses', () => {
    for (const [prog, kind, words] of [
      ['fentry_unlink', 'fentry', /fentry\/fexit\/fmod_ret/],
      ['lsm_file_open', 'lsm', /BPF-LSM/],
    ] as const) {
      const o = openTest();
      try {
        o.setAutoload(prog, true);
        if (features.attach[kind]?.ok) {
          o.load();
          o.attach(prog, { kind }).destroy();
          continue;
        }
        const err = bpfError(() => o.load());
        expect(err.op).toBe('load');
        expect(err.code).toBe('EPERM');
        expect(err.message).toContain(`program '${prog}'`);
        expect(err.message).toMatch(words);
        expect(err.libbpfLog).toContain(prog);
        expect(bpfError(() => o.load()).message).toMatch(/cannot be retried/);
      } finally {
        o.close();
      }
    }
  });
});

describe('probeFeatures', () => {
  it('reports this kernel', () => {
    expect(features.kernelRelease).toBe(release());
    expect(features.btf).toBe(existsSync('/sys/kernel/btf/vmlinux'));
    expect(features.ringbuf).toBe(true);
    expect(features.mapTypes.hash).toBe(true);
    expect(features.mapTypes.ringbuf).toBe(true);
    expect(features.programTypes.tracepoint).toBe(true);
    expect(features.helpers.bpf_ringbuf_output).toBe(true);
    expect(features.attach.tp_btf?.ok).toBe(true);
    const pmu = existsSync('/sys/bus/event_source/devices/kprobe');
    expect(features.attach.kprobe?.ok).toBe(pmu);
    if (!pmu) expect(features.attach.kprobe?.reason).toMatch(/CONFIG_KPROBES/);
    expect(typeof features.lockdown).toBe('string');
    if (features.lockdown === 'integrity' || features.lockdown === 'confidentiality')
      expect(features.helpers.bpf_probe_write_user).toBe(false);
    expect(possibleCpus()).toBeGreaterThanOrEqual(1);
  });

  it('gives the realtime - boottime clock offset', () => {
    const uptimeNs = BigInt(Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e9));
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const diff = nowNs - bootTimeOffsetNs() - uptimeNs; // /proc/uptime is CLOCK_BOOTTIME, 10 ms ticks
    expect(diff < 0n ? -diff : diff).toBeLessThan(50_000_000n);
  });
});
