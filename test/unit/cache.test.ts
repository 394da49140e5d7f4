import { describe, expect, it } from 'vitest';
import { ProcessCache } from '../../agent/process/cache.js';
import { Process, makeExecId, type ProcessInit } from '../../agent/process/process.js';

let seq = 0;
function proc(pid: number, ppid: number, over: Partial<ProcessInit> = {}): Process {
  seq++;
  return new Process({
    execId: makeExecId('n', String(seq), pid), pid, tid: pid, ppid,
    creds: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 },
    auid: 4294967295, binary: `/bin/p${pid}`, args: [`p${pid}`], argsTruncated: false, cwd: '/',
    origin: 'execve', startTime: '2026-01-01T00:00:00.000000000Z', startBoottime: pid * 1000,
    cgroupId: '1', cgroupPath: '/', caps: { permitted: [0, 0], effective: [0, 0], inheritable: [0, 0] },
    ns: Uint32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), ...over,
  });
}

describe('ProcessCache', () => {
  it('links parents and lists ancestors beyond the parent, nearest first', () => {
    const c = new ProcessCache({ ancestorsDepth: 2 });
    const a = proc(1, 0), b = proc(2, 1), d = proc(3, 2), e = proc(4, 3);
    c.insert(a, undefined);
    c.insert(b, c.lookup(1, a.startBoottime));
    c.insert(d, c.lookup(2, b.startBoottime));
    c.insert(e, c.lookup(3, d.startBoottime));
    expect(e.parentExecId).toBe(d.execId);
    expect(c.ancestors(e).map((p) => p.pid)).toEqual([2, 1]);
    expect(c.ancestors(e, 10).map((p) => p.pid)).toEqual([2, 1]);
  });

  it('keeps an exited parent while a child lives, then collects both after the grace period', () => {
    const c = new ProcessCache({ graceMs: 100 });
    const parent = proc(10, 0), child = proc(11, 10);
    c.insert(parent, undefined, 0);
    c.insert(child, parent, 0);
    c.exit(parent, 0);
    expect(c.gc(1000)).toBe(0); // the child still points at it
    expect(c.getByExecId(parent.execId)).toBe(parent);
    c.exit(child, 1000);
    expect(c.gc(1050)).toBe(0); // inside the grace period
    expect(c.gc(1100)).toBe(1); // the child; the parent became collectable at 1100
    expect(c.getByExecId(child.execId)).toBeUndefined();
    expect(c.gc(1200)).toBe(1);
    expect(c.size).toBe(0);
  });

  it('refuses a parent whose start time says the pid was reused', () => {
    const c = new ProcessCache();
    c.insert(proc(20, 0), undefined);
    expect(c.lookup(20, 999_999)).toBeUndefined();
    expect(c.lookup(20, 20_000)).toBeDefined();
  });

  it('an exec replaces the image before it under the same pid', () => {
    const c = new ProcessCache();
    const before = proc(30, 0, { origin: 'clone' });
    c.insert(before, undefined);
    const after = proc(30, 0);
    c.insert(after, undefined);
    expect(c.getByPid(30)).toBe(after);
    expect(before.exited).toBe(true);
  });

  it('stays within its bound, evicting collectable entries first and counting evictions', () => {
    const c = new ProcessCache({ maxEntries: 100, graceMs: 1e9 });
    const root = proc(1, 0);
    c.insert(root, undefined);
    for (let i = 2; i < 1000; i++) {
      const p = proc(i, 1);
      c.insert(p, root);
      c.exit(p);
    }
    expect(c.size).toBeLessThanOrEqual(100);
    expect(c.stats().evicted).toBe(999 - 100);
    expect(c.getByPid(1)).toBe(root); // the live one is never evicted
  });

  it('counts execs whose parent it never saw', () => {
    const c = new ProcessCache();
    c.insert(proc(5, 4), undefined);
    expect(c.stats().parentMissing).toBe(1);
  });
});
