// Processes that were running before the agent started, read from /proc so their children have
// parents. Values match what the exec sensor reports for a live exec where /proc can tell.
import { closeSync, openSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { parseCapHex } from './capabilities.js';
import { NS_NAMES } from '../pipeline/layout.js';
import type { WallClock } from '../pipeline/clock.js';
import { Process, makeExecId, type CapSets, type Credentials } from './process.js';
import type { ProcessCache } from './cache.js';

export interface ProcEntry {
  pid: number;
  ppid: number;
  /** Start time since boot in ns, at clock-tick resolution. */
  startBoottime: number;
  comm: string;
  binary: string;
  args: string[];
  cwd: string;
  creds: Credentials;
  auid: number;
  caps: CapSets;
  cgroupPath: string;
  cgroupId: string;
  ns: number[];
}

const CLK_TCK = 100; // USER_HZ: fixed at 100 for the /proc ABI on every architecture we run on

/** One read buffer for every /proc file: readFileSync would allocate two 8 KB buffers per file,
 *  and for thousands of processes that churn stays in the agent's RSS. Grows for long cmdlines. */
let readBuf = Buffer.allocUnsafeSlow(16384);

function readOr(path: string, fallback: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return fallback;
  }
  try {
    let n = 0;
    for (;;) {
      if (n === readBuf.length) {
        const bigger = Buffer.allocUnsafeSlow(readBuf.length * 2);
        readBuf.copy(bigger, 0, 0, n);
        readBuf = bigger;
      }
      const got = readSync(fd, readBuf, n, readBuf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    const text = readBuf.toString('latin1', 0, n);
    if (readBuf.length > 65536) readBuf = Buffer.allocUnsafeSlow(16384); // a huge cmdline: do not keep its buffer
    return text;
  } catch {
    return fallback;
  } finally {
    closeSync(fd);
  }
}

function linkOr(path: string, fallback: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return fallback;
  }
}

/** Inode numbers of the namespaces of `pid` in NS_NAMES order (0 where absent). */
export function readNamespaces(pid: number | 'self'): number[] {
  return NS_NAMES.map((name) => {
    const link = linkOr(`/proc/${pid}/ns/${name}`, '');
    const m = /\[(\d+)\]$/.exec(link);
    return m ? Number(m[1]) : 0;
  });
}

/** The host's namespaces: init's, or the agent's own where init's are hidden (a sandboxed pid 1). */
export function hostNamespaces(): number[] {
  const init = readNamespaces(1);
  const self = readNamespaces('self');
  return init.map((v, i) => v || self[i] || 0);
}

/** The cgroup v2 mount point: where cgroup ids (directory inode numbers) are looked up. */
export function findCgroup2Mount(mountsText = readOr('/proc/self/mounts', '')): string | undefined {
  for (const line of mountsText.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2') return f[1];
  }
  return undefined;
}

export function parseStat(text: string): { comm: string; ppid: number; startTicks: number } | undefined {
  // comm may hold spaces and parentheses: it ends at the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); ppid is field 4, starttime field 22.
  return { comm: text.slice(open + 1, close), ppid: Number(rest[1]), startTicks: Number(rest[19]) };
}

function statusField(status: string, key: string): string {
  const i = status.indexOf(`\n${key}:`);
  if (i < 0) return '';
  const end = status.indexOf('\n', i + 1);
  return status.slice(i + key.length + 2, end < 0 ? undefined : end).trim();
}

export function readProc(pid: number, cgroupRoot: string | undefined): ProcEntry | undefined {
  const stat = parseStat(readOr(`/proc/${pid}/stat`, ''));
  if (stat === undefined) return undefined; // gone while we looked
  const status = '\n' + readOr(`/proc/${pid}/status`, '');
  const ids = (k: string): number[] => statusField(status, k).split(/\s+/).map(Number);
  const [uid = 0, euid = 0, suid = 0, fsuid = 0] = ids('Uid');
  const [gid = 0, egid = 0, sgid = 0, fsgid = 0] = ids('Gid');
  const cmdline = readOr(`/proc/${pid}/cmdline`, '');
  const args = cmdline === '' ? [] : cmdline.replace(/\0$/, '').split('\0');
  const exe = linkOr(`/proc/${pid}/exe`, '');
  const cgroupLine = readOr(`/proc/${pid}/cgroup`, '').split('\n').find((l) => l.startsWith('0::'));
  const cgroupPath = cgroupLine ? cgroupLine.slice(3) : '';
  let cgroupId = '0';
  if (cgroupRoot && cgroupPath) {
    try {
      cgroupId = String(statSync(cgroupRoot + cgroupPath, { bigint: true }).ino);
    } catch {
      // cgroup removed meanwhile: leave 0
    }
  }
  return {
    pid,
    ppid: stat.ppid,
    startBoottime: (stat.startTicks * 1e9) / CLK_TCK,
    comm: stat.comm,
    // Kernel threads have no exe: name them as ps does.
    binary: exe === '' ? `[${stat.comm}]` : exe.replace(/ \(deleted\)$/, ''),
    args: args.length > 0 ? args : [exe === '' ? `[${stat.comm}]` : exe],
    cwd: linkOr(`/proc/${pid}/cwd`, ''),
    creds: { uid, gid, euid, egid, suid, sgid, fsuid, fsgid },
    auid: Number(readOr(`/proc/${pid}/loginuid`, '4294967295').trim()),
    caps: {
      permitted: parseCapHex(statusField(status, 'CapPrm') || '0'),
      effective: parseCapHex(statusField(status, 'CapEff') || '0'),
      inheritable: parseCapHex(statusField(status, 'CapInh') || '0'),
    },
    cgroupPath,
    cgroupId,
    ns: readNamespaces(pid),
  };
}

/** A running process as scanProc finds it: enough to order them. seedCache reads the rest. */
export type ProcRef = Pick<ProcEntry, 'pid' | 'ppid' | 'startBoottime'>;

/**
 * Every process now running, parents before children where /proc lets us tell. Only their stat is
 * read here: holding every process' details until the sort is done would grow the agent's heap
 * (and its young generation, for good) by megabytes that are garbage a moment later.
 */
export function scanProc(): ProcRef[] {
  const out: ProcRef[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const stat = parseStat(readOr(`/proc/${pid}/stat`, ''));
    if (stat) out.push({ pid, ppid: stat.ppid, startBoottime: (stat.startTicks * 1e9) / CLK_TCK });
  }
  // A parent started before its child; ties (same tick) fall back to pid order.
  out.sort((a, b) => a.startBoottime - b.startBoottime || a.pid - b.pid);
  return out;
}

/** A process read from /proc as the cache keeps it. Hidden namespaces count as the host's. */
export function processFromProc(e: ProcEntry, nodeName: string, clock: WallClock, hostNs: ArrayLike<number>): Process {
  return new Process({
    execId: makeExecId(nodeName, String(Math.round(e.startBoottime)), e.pid),
    pid: e.pid,
    tid: e.pid,
    ppid: e.ppid,
    creds: e.creds,
    auid: e.auid,
    binary: e.binary,
    args: e.args,
    argsTruncated: false,
    cwd: e.cwd,
    origin: 'procFS',
    startTime: clock.formatNs(e.startBoottime),
    startBoottime: e.startBoottime,
    cgroupId: e.cgroupId,
    cgroupPath: e.cgroupPath,
    caps: e.caps,
    ns: Uint32Array.from(e.ns, (v, i) => v || hostNs[i] || 0),
  });
}

/**
 * Puts processes into the cache, parents first (entries come sorted by start): entries from
 * readProc as they are, those from scanProc read now, one at a time. One gone meanwhile is skipped.
 */
export function seedCache(
  cache: ProcessCache, entries: readonly (ProcRef | ProcEntry)[], nodeName: string, clock: WallClock, hostNs: ArrayLike<number>,
): void {
  const root = entries.some((e) => !('binary' in e)) ? findCgroup2Mount() : undefined;
  for (const ref of entries) {
    const e = 'binary' in ref ? ref : readProc(ref.pid, root);
    if (e !== undefined) cache.insert(processFromProc(e, nodeName, clock, hostNs), cache.getByPid(e.ppid));
  }
}
