// The process cache: who is running, who started whom. Parents stay while children live
// (reference counts); exited entries are collected after a grace period, and the whole cache is
// bounded (oldest collectable entries go first, and every forced eviction is counted).
import { Process } from './process.js';

export interface ProcessCacheOptions {
  /** Upper bound on entries, live and exited. */
  maxEntries: number;
  /** How long an exited, unreferenced entry stays for late lookups. */
  graceMs: number;
  /** Ancestors reported beyond the parent (0 = none). */
  ancestorsDepth: number;
}

export const DEFAULT_CACHE_OPTIONS: ProcessCacheOptions = {
  maxEntries: 65536,
  graceMs: 30_000,
  ancestorsDepth: 5,
};

export interface ProcessCacheStats {
  size: number;
  live: number;
  collectable: number;
  evicted: number;
  parentMissing: number;
  pidReused: number;
}

export class ProcessCache {
  readonly opts: ProcessCacheOptions;
  private readonly byPid = new Map<number, Process>();
  private readonly byExecId = new Map<string, Process>();
  /** Entries whose refcnt reached 0, in the order they did, with the time they did. */
  private readonly collectable = new Map<Process, number>();
  private evicted = 0;
  private parentMissing = 0;
  private pidReused = 0;

  constructor(opts: Partial<ProcessCacheOptions> = {}) {
    this.opts = { ...DEFAULT_CACHE_OPTIONS, ...opts };
  }

  get size(): number {
    return this.byExecId.size;
  }

  getByPid(pid: number): Process | undefined {
    return this.byPid.get(pid);
  }

  getByExecId(execId: string): Process | undefined {
    return this.byExecId.get(execId);
  }

  /**
   * Adds a process (exec, fork or /proc). It replaces whatever held the pid (the image before
   * exec, or a process whose exit was never seen) and takes a reference on its parent.
   */
  insert(p: Process, parent: Process | undefined, now = Date.now()): void {
    const prev = this.byPid.get(p.pid);
    if (prev !== undefined) {
      if (prev.startBoottime !== p.startBoottime && p.origin === 'execve' && prev.origin !== 'procFS') this.pidReused++;
      this.markExited(prev, now);
      // The image before an exec is never looked up again; without children it goes now.
      if (prev.refcnt === 0) this.remove(prev, now);
    }
    if (parent !== undefined) {
      p.parent = parent;
      this.ref(parent);
    } else if (p.ppid !== 0) {
      this.parentMissing++;
    }
    this.byPid.set(p.pid, p);
    this.byExecId.set(p.execId, p);
    if (this.byExecId.size > this.opts.maxEntries) this.evict(this.byExecId.size - this.opts.maxEntries);
  }

  /**
   * The live process holding `pid` if it is the one that started at `startBoottime`: a different
   * start time means the pid was reused. /proc start times have clock-tick resolution, so entries
   * read from /proc match any start time.
   */
  lookup(pid: number, startBoottime: number): Process | undefined {
    const p = this.byPid.get(pid);
    if (p === undefined) return undefined;
    if (p.origin !== 'procFS' && p.startBoottime !== startBoottime) return undefined;
    return p;
  }

  /** The process exited: it leaves the pid table and drops its own reference. */
  exit(p: Process, now = Date.now()): void {
    this.markExited(p, now);
  }

  /** Up to `depth` ancestors beyond the parent, nearest first. */
  ancestors(p: Process, depth = this.opts.ancestorsDepth): Process[] {
    const out: Process[] = [];
    let a = p.parent?.parent ?? null;
    while (a !== null && out.length < depth) {
      out.push(a);
      a = a.parent;
    }
    return out;
  }

  /** Removes entries that have been collectable for longer than the grace period. */
  gc(now = Date.now()): number {
    let removed = 0;
    for (const [p, since] of this.collectable) {
      if (now - since < this.opts.graceMs) break; // insertion order is time order
      this.remove(p, now);
      removed++;
    }
    return removed;
  }

  stats(): ProcessCacheStats {
    return {
      size: this.byExecId.size,
      live: this.byPid.size,
      collectable: this.collectable.size,
      evicted: this.evicted,
      parentMissing: this.parentMissing,
      pidReused: this.pidReused,
    };
  }

  private markExited(p: Process, now: number): void {
    if (p.exited) return;
    p.exited = true;
    if (this.byPid.get(p.pid) === p) this.byPid.delete(p.pid);
    this.unref(p, now);
  }

  private ref(p: Process): void {
    if (p.refcnt++ === 0) this.collectable.delete(p);
  }

  private unref(p: Process, now: number): void {
    if (--p.refcnt === 0) this.collectable.set(p, now);
  }

  private remove(p: Process, now: number): void {
    this.collectable.delete(p);
    this.byExecId.delete(p.execId);
    const parent = p.parent;
    if (parent !== null) this.unref(parent, now);
  }

  /** Every cached process (exited ones included, until collected). */
  entries(): IterableIterator<Process> {
    return this.byExecId.values();
  }

  /** Over the bound: collect the oldest collectable entries first, then the oldest exited ones. */
  private evict(n: number): void {
    for (const p of this.collectable.keys()) {
      if (n <= 0) return;
      this.remove(p, 0);
      this.evicted++;
      n--;
    }
    if (n <= 0) return;
    for (const p of this.byExecId.values()) {
      if (n <= 0) return;
      if (!p.exited) continue;
      // Children keep their pointer; the entry only leaves the index.
      this.byExecId.delete(p.execId);
      this.evicted++;
      n--;
    }
  }
}
