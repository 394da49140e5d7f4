// The per-process mark bits behind matchBinaries and matchPIDs followForks (bpf/include/palisade/marks.h).
// One bit per filter, 64 in all. The kernel keeps the bits current at exec, fork and exit; this module
// owns the bit allocation, the binary-name table and the seeding of processes that already run.
import { readFileSync } from 'node:fs';
import type { BpfMap } from '../../native/index.js';
import { binKey, type MarkRequest } from '../compile/compile.js';
import { BinKind, MARKS_CFG } from '../compile/layout.js';

/** A running process as the agent's cache knows it (structurally, agent/process Process). */
export interface LiveProcess {
  readonly pid: number;
  readonly binary: string;
  readonly parent: LiveProcess | null;
  readonly exited: boolean;
}

export interface MarkMaps {
  names: BpfMap;
  cfg: BpfMap;
  procs: BpfMap;
}

interface Mark {
  bit: bigint;
  req: MarkRequest;
}

export class MarkError extends Error {}

export const MAX_MARKS = 64;

export class ProcessMarks {
  private readonly marks = new Map<bigint, Mark>();

  constructor(private readonly maps: MarkMaps, private readonly processes: () => Iterable<LiveProcess>) {}

  get used(): number {
    return this.marks.size;
  }

  /** Allocates one bit per request, writes the table and seeds running processes. */
  add(reqs: MarkRequest[]): bigint[] {
    if (this.marks.size + reqs.length > MAX_MARKS) {
      throw new MarkError(`matchBinaries and followForks filters: ${this.marks.size} in use, ${reqs.length} more needed, at most ${MAX_MARKS} across all loaded policies`);
    }
    const bits: bigint[] = [];
    for (const req of reqs) {
      let bit = 1n;
      while (this.marks.has(bit)) bit <<= 1n;
      this.marks.set(bit, { bit, req });
      bits.push(bit);
    }
    if (bits.length > 0) this.sync(bits);
    return bits;
  }

  release(bits: bigint[]): void {
    for (const b of bits) this.marks.delete(b);
    if (bits.length > 0) this.sync(bits);
  }

  /** Rewrites the name table and config, then recomputes `changed` bits for every live process. */
  private sync(changed: bigint[]): void {
    const { names, cfg, procs } = this.maps;
    // Name table: each entry carries the bits of every value it satisfies (LPM returns one entry).
    const want = new Map<string, { kind: BinKind; path: string; key: Buffer; mask: bigint }>();
    const binMarks = [...this.marks.values()].filter((m): m is Mark & { req: { kind: 'binary' } } => m.req.kind === 'binary');
    for (const m of binMarks) {
      const kind = binKind(m.req.filter.operator);
      for (const path of m.req.filter.values) want.set(`${kind}:${path}`, { kind, path, key: binKey(kind, path), mask: 0n });
    }
    for (const e of want.values()) {
      for (const m of binMarks) {
        if (binKind(m.req.filter.operator) === e.kind && m.req.filter.values.some((v) => pathMatches(e.kind, v, e.path))) e.mask |= m.bit;
      }
    }
    const wantKeys = new Set([...want.values()].map((e) => e.key.toString('hex')));
    for (const k of names.keys()) if (!wantKeys.has(k.toString('hex'))) names.delete(k);
    for (const e of want.values()) names.update(e.key, u64(e.mask));

    let keep = 0n;
    for (const m of this.marks.values()) {
      if (m.req.kind === 'pids' || m.req.filter.followChildren) keep |= m.bit;
    }
    const c = Buffer.alloc(MARKS_CFG.$size);
    c.writeBigUInt64LE(keep, MARKS_CFG.keep_on_exec);
    c.writeUInt32LE(this.marks.size > 0 ? 1 : 0, MARKS_CFG.active);
    cfg.update(u32(0), c);

    // Seed: recompute the changed bits of every live process.
    let clear = 0n;
    for (const b of changed) clear |= b;
    const key = Buffer.alloc(4);
    for (const p of this.processes()) {
      if (p.exited) continue;
      key.writeUInt32LE(p.pid);
      const old = procs.lookup(key);
      let bits = (old ? old.readBigUInt64LE(0) : 0n) & ~clear;
      for (const b of changed) {
        const m = this.marks.get(b);
        if (m && matches(m.req, p)) bits |= b;
      }
      if (bits === 0n) {
        if (old) procs.delete(key);
      } else {
        procs.update(key, u64(bits));
      }
    }
  }
}

function binKind(op: string): BinKind {
  return op.endsWith('Prefix') ? BinKind.Prefix : op.endsWith('Postfix') ? BinKind.Postfix : BinKind.Exact;
}

/** The kernel's rule for one matchBinaries value: whole path, prefix or postfix. */
function pathMatches(kind: BinKind, value: string, path: string): boolean {
  return kind === BinKind.Exact ? path === value : kind === BinKind.Prefix ? path.startsWith(value) : path.endsWith(value);
}

/** Does a running process carry this mark? The kernel's rule, applied to the cache. */
function matches(req: MarkRequest, p: LiveProcess): boolean {
  if (req.kind === 'binary') {
    const f = req.filter;
    const kind = binKind(f.operator);
    const hit = (q: LiveProcess): boolean => f.values.some((v) => pathMatches(kind, v, q.binary));
    if (hit(p)) return true;
    if (!f.followChildren) return false;
    for (let a = p.parent; a; a = a.parent) if (hit(a)) return true;
    return false;
  }
  const pidOf = (q: LiveProcess): number => (req.nsPid ? nsPid(q.pid) : q.pid);
  for (let a: LiveProcess | null = p; a; a = a.parent) if (req.pids.includes(pidOf(a))) return true;
  return false;
}

function nsPid(pid: number): number {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const all = line?.trim().split(/\s+/) ?? [];
    return Number(all[all.length - 1] ?? pid);
  } catch {
    return pid;
  }
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
