// One process as the cache knows it, and its JSON form (built once, reused by every event).
import { capsJson } from './capabilities.js';
import { NS_NAMES } from '../pipeline/layout.js';

/** How the cache learned of a process, as Tetragon spells it. */
export type ProcessOrigin = 'execve' | 'clone' | 'procFS';

export interface Credentials {
  uid: number; gid: number; euid: number; egid: number;
  suid: number; sgid: number; fsuid: number; fsgid: number;
}

/** Capability sets as (low, high) 32-bit halves. */
export interface CapSets {
  permitted: [number, number];
  effective: [number, number];
  inheritable: [number, number];
}

export interface ProcessInit {
  execId: string;
  pid: number;
  tid: number;
  ppid: number;
  creds: Credentials;
  auid: number;
  binary: string;
  args: string[];
  argsTruncated: boolean;
  cwd: string;
  origin: ProcessOrigin;
  /** RFC 3339 time of the exec (or fork, or process start for procFS). */
  startTime: string;
  /** Kernel task start time (CLOCK_BOOTTIME ns, possibly rounded): tells pid reuse apart. */
  startBoottime: number;
  cgroupId: string;
  cgroupPath: string;
  caps: CapSets;
  /** Namespace inums in NS_NAMES order; kept, not copied (a forked child shares its parent's). */
  ns: Uint32Array;
}

export class Process {
  readonly execId: string;
  readonly pid: number;
  readonly tid: number;
  readonly ppid: number;
  readonly creds: Credentials;
  readonly auid: number;
  readonly binary: string;
  readonly args: string[];
  readonly argsTruncated: boolean;
  readonly cwd: string;
  readonly origin: ProcessOrigin;
  readonly startTime: string;
  readonly startBoottime: number;
  readonly cgroupId: string;
  readonly cgroupPath: string;
  readonly caps: CapSets;
  readonly ns: Uint32Array;
  parent: Process | null = null;
  /** 1 while alive, plus one per cached child pointing here. At 0 the entry may be collected. */
  refcnt = 1;
  exited = false;
  private jsonCache = '';
  private slimCache = '';

  constructor(init: ProcessInit) {
    this.execId = init.execId;
    this.pid = init.pid;
    this.tid = init.tid;
    this.ppid = init.ppid;
    this.creds = init.creds;
    this.auid = init.auid;
    this.binary = init.binary;
    this.args = init.args;
    this.argsTruncated = init.argsTruncated;
    this.cwd = init.cwd;
    this.origin = init.origin;
    this.startTime = init.startTime;
    this.startBoottime = init.startBoottime;
    this.cgroupId = init.cgroupId;
    this.cgroupPath = init.cgroupPath;
    this.caps = init.caps;
    this.ns = init.ns;
  }

  get parentExecId(): string {
    return this.parent ? this.parent.execId : '';
  }

  /** argv[1..] joined the way Tetragon's `arguments` field is: quoted when an arg has a space. */
  get arguments(): string {
    let s = '';
    for (let i = 1; i < this.args.length; i++) {
      const a = this.args[i]!;
      if (i > 1) s += ' ';
      s += a.includes(' ') || a === '' ? JSON.stringify(a) : a;
    }
    return s;
  }

  /** The full process block as a JSON object text. Host namespace inums make `is_host`. */
  json(hostNs: ArrayLike<number>): string {
    if (this.jsonCache === '') this.jsonCache = flatten(this.buildJson(hostNs));
    return this.jsonCache;
  }

  /** A short block for ancestors: who, what, where, when. */
  slimJson(): string {
    if (this.slimCache === '') {
      this.slimCache = flatten(
        `{"exec_id":${JSON.stringify(this.execId)},"pid":${this.pid},"uid":${this.creds.uid},` +
        `"binary":${JSON.stringify(this.binary)},"arguments":${JSON.stringify(this.arguments)},` +
        `"cwd":${JSON.stringify(this.cwd)},"flags":"${this.origin}","start_time":"${this.startTime}",` +
        `"parent_exec_id":${JSON.stringify(this.parentExecId)}}`,
      );
    }
    return this.slimCache;
  }

  private buildJson(hostNs: ArrayLike<number>): string {
    const c = this.creds;
    let ns = '';
    for (let i = 0; i < NS_NAMES.length; i++) {
      const inum = this.ns[i] ?? 0;
      if (inum === 0) continue;
      if (ns !== '') ns += ',';
      ns += `"${NS_NAMES[i]}":{"inum":${inum},"is_host":${inum === hostNs[i]}}`;
    }
    return (
      `{"exec_id":${JSON.stringify(this.execId)},"pid":${this.pid},"tid":${this.tid},"ppid":${this.ppid},` +
      `"uid":${c.uid},"auid":${this.auid},"binary":${JSON.stringify(this.binary)},` +
      `"arguments":${JSON.stringify(this.arguments)},` +
      (this.argsTruncated ? '"arguments_truncated":true,' : '') +
      `"cwd":${JSON.stringify(this.cwd)},"flags":"${this.origin}","start_time":"${this.startTime}",` +
      `"parent_exec_id":${JSON.stringify(this.parentExecId)},` +
      `"cgroup":{"id":"${this.cgroupId}","path":${JSON.stringify(this.cgroupPath)}},` +
      `"process_credentials":{"uid":${c.uid},"gid":${c.gid},"euid":${c.euid},"egid":${c.egid},` +
      `"suid":${c.suid},"sgid":${c.sgid},"fsuid":${c.fsuid},"fsgid":${c.fsgid}},` +
      `"cap":{"permitted":${capsJson(...this.caps.permitted)},"effective":${capsJson(...this.caps.effective)},` +
      `"inheritable":${capsJson(...this.caps.inheritable)}},"ns":{${ns}}}`
    );
  }
}

/** A cached string built by concatenation is a tree of pieces, over twice its flat size; reading a
 *  character makes V8 flatten it in place, so the cache holds one flat copy. */
function flatten(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** Tetragon's exec_id: base64 of "node:ktime:pid", unique per node for the life of the process. */
export function makeExecId(node: string, ktime: bigint | string, pid: number): string {
  return Buffer.from(`${node}:${ktime}:${pid}`).toString('base64');
}
