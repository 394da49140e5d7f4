// One process as the cache knows it, and its JSON text (built once, reused by every event).
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
  private coreCache = '';
  private slimCache = '';

  constructor(init: ProcessInit) {
    this.execId = init.execId;
    this.pid = init.pid;
    this.tid = init.tid;
    this.ppid = init.ppid;
    this.creds = shared.creds(init.creds);
    this.auid = init.auid;
    this.binary = shared.string(init.binary);
    this.args = init.args;
    this.argsTruncated = init.argsTruncated;
    this.cwd = shared.string(init.cwd);
    this.origin = init.origin;
    this.startTime = flatten(init.startTime); // a rope of clock pieces otherwise
    this.startBoottime = init.startBoottime;
    this.cgroupId = shared.string(init.cgroupId);
    this.cgroupPath = shared.string(init.cgroupPath);
    this.caps = shared.caps(init.caps);
    this.ns = shared.ns(init.ns);
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

  /**
   * The process block up to and including `cgroup`, without its closing brace: the optional
   * credentials, capabilities and namespaces (credentialsJson … below) may follow. Built once.
   */
  coreJson(): string {
    if (this.coreCache === '') {
      this.coreCache = flatten(
        `{"exec_id":${JSON.stringify(this.execId)},"pid":${this.pid},"tid":${this.tid},"ppid":${this.ppid},` +
        `"uid":${this.creds.uid},"auid":${this.auid},"binary":${JSON.stringify(this.binary)},` +
        `"arguments":${JSON.stringify(this.arguments)},` +
        (this.argsTruncated ? '"arguments_truncated":true,' : '') +
        `"cwd":${JSON.stringify(this.cwd)},"flags":"${this.origin}","start_time":"${this.startTime}",` +
        `"parent_exec_id":${JSON.stringify(this.parentExecId)},` +
        `"cgroup":{"id":"${this.cgroupId}","path":${JSON.stringify(this.cgroupPath)}}`,
      );
    }
    return this.coreCache;
  }

  /** A short block for ancestors: who, what, where, when. Built once. */
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

  /** The whole block, as docs/events.md shows it with every option on. */
  json(hostNs: ArrayLike<number>): string {
    return this.coreJson() + credentialsJson(this.creds) + capabilitiesJson(this.caps) + namespacesJson(this.ns, hostNs) + '}';
  }
}

/** `,"process_credentials":{…}`: shown with enable_process_cred. */
export function credentialsJson(c: Credentials): string {
  return (
    `,"process_credentials":{"uid":${c.uid},"gid":${c.gid},"euid":${c.euid},"egid":${c.egid},` +
    `"suid":${c.suid},"sgid":${c.sgid},"fsuid":${c.fsuid},"fsgid":${c.fsgid}}`
  );
}

/** `,"cap":{…}`: shown with enable_process_cred. */
export function capabilitiesJson(k: CapSets): string {
  return (
    `,"cap":{"permitted":${capsJson(...k.permitted)},"effective":${capsJson(...k.effective)},` +
    `"inheritable":${capsJson(...k.inheritable)}}`
  );
}

/** `,"ns":{…}`: shown with enable_process_ns. Host namespace inums make `is_host`. */
export function namespacesJson(inums: Uint32Array, hostNs: ArrayLike<number>): string {
  let ns = '';
  for (let i = 0; i < NS_NAMES.length; i++) {
    const inum = inums[i] ?? 0;
    if (inum === 0) continue;
    if (ns !== '') ns += ',';
    ns += `"${NS_NAMES[i]}":{"inum":${inum},"is_host":${inum === hostNs[i]}}`;
  }
  return `,"ns":{${ns}}`;
}

/**
 * Values many processes hold alike (a cwd, a cgroup path, root's credentials, the host's
 * namespaces) are kept once: with 10,000 processes cached, per-process copies add up. Bounded:
 * past the limit a table starts over, which only costs sharing, never correctness.
 */
class SharedValues {
  private readonly strings = new Map<string, string>();
  private readonly credTable = new Map<string, Credentials>();
  private readonly capTable = new Map<string, CapSets>();
  private readonly nsTable = new Map<string, Uint32Array>();
  // Most processes have the values of the one before: compared first, no key built.
  private lastCreds: Credentials | null = null;
  private lastCaps: CapSets | null = null;
  private lastNs: Uint32Array | null = null;

  constructor(private readonly limit: number) {}

  string(s: string): string {
    return this.get(this.strings, s, s);
  }

  creds(c: Credentials): Credentials {
    const l = this.lastCreds;
    if (l !== null && l.uid === c.uid && l.gid === c.gid && l.euid === c.euid && l.egid === c.egid &&
        l.suid === c.suid && l.sgid === c.sgid && l.fsuid === c.fsuid && l.fsgid === c.fsgid) return l;
    return (this.lastCreds = this.get(this.credTable, `${c.uid},${c.gid},${c.euid},${c.egid},${c.suid},${c.sgid},${c.fsuid},${c.fsgid}`, c));
  }

  caps(c: CapSets): CapSets {
    const l = this.lastCaps;
    if (l !== null && samePair(l.permitted, c.permitted) && samePair(l.effective, c.effective) && samePair(l.inheritable, c.inheritable)) return l;
    const [p0, p1] = c.permitted, [e0, e1] = c.effective, [i0, i1] = c.inheritable;
    return (this.lastCaps = this.get(this.capTable, `${p0},${p1},${e0},${e1},${i0},${i1}`, c));
  }

  ns(ns: Uint32Array): Uint32Array {
    const l = this.lastNs;
    if (l !== null && l.length === ns.length && l.every((v, i) => v === ns[i])) return l;
    let key = '';
    for (let i = 0; i < ns.length; i++) key += ns[i] + ',';
    return (this.lastNs = this.get(this.nsTable, key, ns));
  }

  private get<T>(table: Map<string, T>, key: string, value: T): T {
    const have = table.get(key);
    if (have !== undefined) return have;
    if (table.size >= this.limit) table.clear();
    table.set(key, value);
    return value;
  }
}

function samePair(a: [number, number], b: [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

const shared = new SharedValues(4096);

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
