// Typed facade over the libbpf addon (build/Release/palisade_native.node). No policy logic.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AttachSpec, BpfErrorFields, FeatureReport, MapInfo, ProgramInfo } from './types.js';

export type { AttachSpec, BpfErrorFields, FeatureReport, MapInfo, ProgramInfo } from './types.js';

// ---- the addon's shape ---------------------------------------------------------------------------

type UpdateFlags = 'any' | 'noexist' | 'exist';

interface NativeObjectHandle {
  readonly name: string;
  readonly loaded: boolean;
  setConst(name: string, value: Buffer): void;
  setMapMaxEntries(map: string, n: number): void;
  setAutoload(prog: string, on: boolean): void;
  reuseMap(name: string, fd: number): void;
  setAttachTarget(prog: string, target: string): void;
  load(): void;
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  map(name: string): NativeMapHandle;
  attach(prog: string, spec: AttachSpec): NativeLinkHandle;
  close(): void;
}

interface NativeMapHandle {
  readonly info: MapInfo;
  readonly perCpu: boolean;
  readonly cpus: number;
  readonly valueBufferSize: number;
  /** Throws once the map or its object is closed. */
  readonly fd: number;
  lookup(key: Buffer): Buffer | null;
  update(key: Buffer, value: Buffer, flags?: UpdateFlags): void;
  delete(key: Buffer): boolean;
  keys(): Buffer[];
  lookupBatch(): { keys: Buffer[]; values: Buffer[] };
  updateBatch(keys: Buffer[], values: Buffer[], flags?: UpdateFlags): void;
  updateBatchFlat(keys: Buffer, values: Buffer, flags?: UpdateFlags): void;
  pin(path: string): void;
  unpin(path: string): void;
  close(): void;
}

interface NativeLinkHandle {
  readonly program: string;
  readonly kind: string;
  readonly destroyed: boolean;
  destroy(): void;
}

interface NativeRingBufferHandle {
  readonly size: number;
  drain(out: Buffer): number;
  available(): number;
  close(): void;
}

interface NativeAddon {
  setErrorFactory(f: (message: string, errno: number, code: string, op: string, libbpfLog: string) => Error): void;
  possibleCpus(): number;
  bootTimeOffsetNs(): bigint;
  probeFeatures(): FeatureReport;
  NativeObject: { open(path: string): NativeObjectHandle };
  NativeMap: { fromPinned(path: string): NativeMapHandle };
  NativeRingBuffer: new (mapFd: number) => NativeRingBufferHandle;
}

/** The package root: the nearest folder above this file holding package.json (works from
 *  native/index.ts under vitest and from dist/native/index.js). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`palisade: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

const addonPath = join(packageRoot(), 'build', 'Release', 'palisade_native.node');
const native: NativeAddon = (() => {
  try {
    return createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`palisade: cannot load the native addon at ${addonPath} (run \`npm run build:native\`): ${why}`);
  }
})();

// ---- errors --------------------------------------------------------------------------------------

/** An error from libbpf, the kernel, or a bad argument caught before reaching them. */
export class BpfError extends Error implements BpfErrorFields {
  override readonly name = 'BpfError';
  readonly errno: number;
  readonly code: string;
  readonly op: string;
  readonly libbpfLog: string;

  constructor(message: string, fields: BpfErrorFields) {
    super(`${message} [${fields.code}]`);
    this.errno = fields.errno;
    this.code = fields.code;
    this.op = fields.op;
    this.libbpfLog = fields.libbpfLog;
  }
}

native.setErrorFactory((message, errno, code, op, libbpfLog) => new BpfError(message, { errno, code, op, libbpfLog }));

// ---- objects, programs, links ----------------------------------------------------------------------

/** One attachment of a program. destroy() detaches; calling it again does nothing. */
export class BpfLink {
  readonly program: string;
  readonly kind: string;
  readonly #h: NativeLinkHandle;

  /** @internal use BpfObject.attach */
  constructor(h: NativeLinkHandle) {
    this.#h = h;
    this.program = h.program;
    this.kind = h.kind;
  }

  get destroyed(): boolean {
    return this.#h.destroyed;
  }

  destroy(): void {
    this.#h.destroy();
  }
}

/**
 * A BPF ELF object: open → (setConst / setMapMaxEntries / setAutoload) → load → attach / map.
 * close() destroys every link made from it, then the object; maps taken from it stop working.
 * An object that is never closed stays loaded and attached until the process exits (the garbage
 * collector does not detach programs).
 */
export class BpfObject {
  readonly #h: NativeObjectHandle;

  private constructor(h: NativeObjectHandle) {
    this.#h = h;
  }

  static open(path: string): BpfObject {
    return new BpfObject(native.NativeObject.open(path));
  }

  /** The path the object was opened from. */
  get path(): string {
    return this.#h.name;
  }

  get loaded(): boolean {
    return this.#h.loaded;
  }

  /** Sets a `const volatile` global (.rodata; .data/.bss also work) before load. Size must match. */
  setConst(name: string, value: Buffer): void {
    this.#h.setConst(name, value);
  }

  setMapMaxEntries(map: string, n: number): void {
    this.#h.setMapMaxEntries(map, n);
  }

  setAutoload(prog: string, on: boolean): void {
    this.#h.setAutoload(prog, on);
  }

  /** Before load: the kernel function an fentry/fexit/lsm program attaches to (e.g. "file_open" for lsm). */
  setAttachTarget(prog: string, target: string): void {
    this.#h.setAttachTarget(prog, target);
  }

  /** Before load: use an existing map (another object's ring buffer, counters…) instead of creating one. */
  reuseMap(name: string, map: BpfMap): void {
    this.#h.reuseMap(name, map.fd);
  }

  /** Loads maps and programs. A failed load cannot be retried: open the file again. */
  load(): void {
    this.#h.load();
  }

  programs(): ProgramInfo[] {
    return this.#h.programs();
  }

  maps(): MapInfo[] {
    return this.#h.maps();
  }

  /** A loaded map by name; ".bss", ".data", ".rodata" find the object's internal maps. */
  map(name: string): BpfMap {
    return new BpfMap(this.#h.map(name));
  }

  attach(prog: string, spec: AttachSpec = { kind: 'auto' }): BpfLink {
    return new BpfLink(this.#h.attach(prog, spec));
  }

  close(): void {
    this.#h.close();
  }
}

// ---- maps --------------------------------------------------------------------------------------------

/**
 * Element access on a BPF map. Keys must be exactly keySize bytes; values valueSize bytes, or for
 * per-CPU maps perCpuValueSize * cpus bytes (one 8-byte aligned slot per possible CPU).
 */
export class BpfMap {
  readonly info: MapInfo;
  /** True for percpu_array, percpu_hash, lru_percpu_hash, percpu_cgroup_storage. */
  readonly perCpu: boolean;
  /** Possible CPUs (slots in a per-CPU value). */
  readonly cpus: number;
  /** Bytes of one CPU's slot in a per-CPU value: valueSize rounded up to 8. */
  readonly perCpuValueSize: number;
  /** Bytes of a value buffer as lookup returns it and update expects it. */
  readonly valueBufferSize: number;
  readonly #h: NativeMapHandle;

  /** @internal use BpfObject.map or BpfMap.fromPinned */
  constructor(h: NativeMapHandle) {
    this.#h = h;
    this.info = h.info;
    this.perCpu = h.perCpu;
    this.cpus = h.cpus;
    this.perCpuValueSize = (this.info.valueSize + 7) & ~7;
    this.valueBufferSize = h.valueBufferSize;
  }

  /** Opens a map pinned in bpffs. The handle owns its fd; close() releases it. */
  static fromPinned(path: string): BpfMap {
    return new BpfMap(native.NativeMap.fromPinned(path));
  }

  /** The map fd; throws once the map or its object is closed. */
  get fd(): number {
    return this.#h.fd;
  }

  lookup(key: Buffer): Buffer | null {
    return this.#h.lookup(key);
  }

  update(key: Buffer, value: Buffer, flags: UpdateFlags = 'any'): void {
    this.#h.update(key, value, flags);
  }

  /** false when the key was not there. */
  delete(key: Buffer): boolean {
    return this.#h.delete(key);
  }

  keys(): Buffer[] {
    return this.#h.keys();
  }

  /** Every entry, by BPF_MAP_LOOKUP_BATCH where the map type supports it. */
  lookupBatch(): { keys: Buffer[]; values: Buffer[] } {
    return this.#h.lookupBatch();
  }

  updateBatch(keys: Buffer[], values: Buffer[], flags: UpdateFlags = 'any'): void {
    this.#h.updateBatch(keys, values, flags);
  }

  /** updateBatch over n keys and n values packed back to back (key size and value buffer size each). */
  updateBatchFlat(keys: Buffer, values: Buffer, flags: UpdateFlags = 'any'): void {
    this.#h.updateBatchFlat(keys, values, flags);
  }

  pin(path: string): void {
    this.#h.pin(path);
  }

  /** Removes a pin (any bpffs path; unlink). */
  unpin(path: string): void {
    this.#h.unpin(path);
  }

  /** Releases this handle (and the fd of a pinned map). The map itself lives on with its object. */
  close(): void {
    this.#h.close();
  }

  /** One Buffer per possible CPU (perCpuValueSize bytes each), or null when the key is absent. */
  perCpuValues(key: Buffer): Buffer[] | null {
    this.#requirePerCpu('perCpuValues');
    const v = this.#h.lookup(key);
    if (v === null) return null;
    const out: Buffer[] = [];
    for (let cpu = 0; cpu < this.cpus; cpu++)
      out.push(v.subarray(cpu * this.perCpuValueSize, (cpu + 1) * this.perCpuValueSize));
    return out;
  }

  /** Sum over CPUs of the u64 at `offset` in each CPU's slot; null when the key is absent. */
  sumPerCpuU64(key: Buffer, offset = 0): bigint | null {
    this.#requirePerCpu('sumPerCpuU64');
    if (!Number.isInteger(offset) || offset < 0 || offset + 8 > this.perCpuValueSize)
      throw new RangeError(`sumPerCpuU64: offset ${offset} is outside a ${this.perCpuValueSize}-byte slot`);
    const v = this.#h.lookup(key);
    if (v === null) return null;
    let sum = 0n;
    for (let cpu = 0; cpu < this.cpus; cpu++) sum += v.readBigUInt64LE(cpu * this.perCpuValueSize + offset);
    return sum;
  }

  #requirePerCpu(what: string): void {
    if (!this.perCpu) throw new TypeError(`${what}: map '${this.info.name}' (${this.info.type}) is not a per-CPU map`);
  }
}

// ---- ring buffer ---------------------------------------------------------------------------------------

/**
 * Consumer of a BPF ring buffer map. drain(out) copies committed records into `out` as frames
 *   [u32 len][u32 0][len bytes][zero pad to 8]
 * and returns the bytes written; records that do not fit stay in the ring for the next call.
 * Producers should submit with BPF_RB_NO_WAKEUP and the agent drain on a timer.
 */
export class RingBuffer {
  /** Frame header bytes before each record. */
  static readonly FRAME_HEADER = 8;
  readonly #h: NativeRingBufferHandle;

  constructor(map: BpfMap) {
    if (map.info.type !== 'ringbuf') throw new TypeError(`RingBuffer: map '${map.info.name}' is a ${map.info.type} map`);
    this.#h = new native.NativeRingBuffer(map.fd);
  }

  /** Data area size in bytes (the map's max_entries). */
  get size(): number {
    return this.#h.size;
  }

  drain(out: Buffer): number {
    return this.#h.drain(out);
  }

  /** producer_pos - consumer_pos: bytes not consumed yet (including reserved/discarded records). */
  available(): number {
    return this.#h.available();
  }

  /** Unmaps the ring. Idempotent; drain afterwards throws. */
  close(): void {
    this.#h.close();
  }
}

/**
 * Walks frames written by RingBuffer.drain: calls fn(record, offset) for each, where record is a
 * view (no copy) into `buf`. Returns the number of records.
 */
export function forEachFrame(buf: Buffer, length: number, fn: (record: Buffer, offset: number) => void): number {
  let off = 0;
  let n = 0;
  while (off + 8 <= length) {
    const len = buf.readUInt32LE(off);
    fn(buf.subarray(off + 8, off + 8 + len), off + 8);
    off += 8 + ((len + 7) & ~7);
    n++;
  }
  return n;
}

// ---- machine ------------------------------------------------------------------------------------------

export function possibleCpus(): number {
  return native.possibleCpus();
}

/** CLOCK_REALTIME - CLOCK_BOOTTIME in ns: add it to bpf_ktime_get_boot_ns() stamps for wall time. */
export function bootTimeOffsetNs(): bigint {
  return native.bootTimeOffsetNs();
}

/** What this kernel supports; never throws. Mounts securityfs at /sys/kernel/security if absent. */
export function probeFeatures(): FeatureReport {
  try {
    const r = native.probeFeatures();
    if (typeof r.kernelRelease === 'string') return r;
  } catch {
    // fall through to the empty report
  }
  return {
    kernelRelease: 'unknown',
    btf: false,
    ringbuf: false,
    programTypes: {},
    mapTypes: {},
    helpers: {},
    attach: {},
    lsms: [],
    lockdown: 'unknown',
    cgroup2Path: null,
  };
}
