// Seeding from /proc: a light scan to order processes, then each one read as it goes in.
import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WallClock } from '../../agent/pipeline/clock.js';
import { ProcessCache } from '../../agent/process/cache.js';
import { findCgroup2Mount, hostNamespaces, readProc, scanProc, seedCache } from '../../agent/process/procfs.js';

describe('procfs seeding', () => {
  it('scans every process in start order, and seeds each with its details and parent', () => {
    const refs = scanProc();
    expect(refs.find((r) => r.pid === process.pid)).toEqual({ pid: process.pid, ppid: process.ppid, startBoottime: expect.any(Number) });
    for (let i = 1; i < refs.length; i++) expect(refs[i]!.startBoottime).toBeGreaterThanOrEqual(refs[i - 1]!.startBoottime);

    const cache = new ProcessCache();
    seedCache(cache, refs, 'n', new WallClock(0n), hostNamespaces());
    const self = cache.getByPid(process.pid)!;
    expect(self).toMatchObject({ binary: realpathSync(process.execPath), cwd: process.cwd(), origin: 'procFS' });
    expect(self.args).toEqual(readProc(process.pid, findCgroup2Mount())!.args);
    expect(self.parent?.pid).toBe(process.ppid);
  });

  it('skips a process that is gone by the time it is read', () => {
    const cache = new ProcessCache();
    seedCache(cache, [{ pid: 2 ** 22 + 1, ppid: 1, startBoottime: 0 }], 'n', new WallClock(0n), hostNamespaces());
    expect(cache.size).toBe(0);
  });
});
