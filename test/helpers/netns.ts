// Test networks: two network namespaces joined by a veth pair, addresses in 10.213.0.0/16 and
// fd00:213::/64 (several per side), a cgroup v2 per workload, and real processes (netpeer.mjs) run
// inside a namespace and a cgroup. Nothing leaves the machine: the namespaces have no other links.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../native/index.js';

// from the source tree, also when this file runs compiled from dist/ (bench)
const PEER_SCRIPT = join(packageRoot(), 'test', 'helpers', 'netpeer.mjs');

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A reply of netpeer.mjs. */
export interface PeerReply {
  ok: boolean;
  code?: string;
  message?: string;
  [k: string]: unknown;
}

/** One netpeer.mjs process in a namespace and a cgroup. */
export class Peer {
  #next = 1;
  readonly #waiting = new Map<number, (r: PeerReply) => void>();
  readonly #ready: Promise<PeerReply>;
  #stderr = '';

  constructor(readonly proc: ChildProcessWithoutNullStreams, readonly ns: string, readonly cgroup: string) {
    let markReady: (r: PeerReply) => void = () => {};
    this.#ready = new Promise((res) => (markReady = res));
    this.#waiting.set(0, markReady);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let r: PeerReply & { id?: number };
      try {
        r = JSON.parse(line) as PeerReply & { id?: number };
      } catch {
        return;
      }
      const w = this.#waiting.get(r.id ?? -1);
      if (w) {
        this.#waiting.delete(r.id!);
        w(r);
      }
    });
    proc.stderr.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    proc.on('exit', (code) => {
      for (const [, w] of this.#waiting) w({ ok: false, code: 'EXITED', message: `peer exited (${code}): ${this.#stderr}` });
      this.#waiting.clear();
    });
  }

  /** Resolves with the pid once the process runs inside its namespace and cgroup. */
  async ready(): Promise<number> {
    const r = await this.#ready;
    if (!r.ok) throw new Error(`peer in ${this.ns} did not start: ${r.message ?? ''} ${this.#stderr}`);
    return r.pid as number;
  }

  call(op: string, args: Record<string, unknown> = {}): Promise<PeerReply> {
    const id = this.#next++;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null)
      return Promise.resolve({ ok: false, code: 'EXITED', message: `peer exited before ${op}: ${this.#stderr}` });
    return new Promise((res) => {
      this.#waiting.set(id, res);
      this.proc.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.pid) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export interface Workload {
  name: string;
  path: string;
  /** cgroup v2 id: the inode of the cgroup directory */
  id: bigint;
}

/**
 * Two namespaces, `a` and `b`, joined by veth a0 <-> b0. Side a has 10.213.S.1, .11, .12, side b
 * 10.213.S.2, .3, .4, .5 (and fd00:213::S:1 / fd00:213::S:2), where S is derived from the pid.
 */
export class TestNet {
  readonly tag: string;
  readonly nsA: string;
  readonly nsB: string;
  readonly subnet: number;
  readonly cgRoot: string;
  readonly #peers: Peer[] = [];
  readonly #cgroups: string[] = [];

  private constructor(readonly cgroup2: string) {
    this.tag = `pal${process.pid}`;
    this.nsA = `${this.tag}a`;
    this.nsB = `${this.tag}b`;
    this.subnet = (process.pid % 200) + 20;
    this.cgRoot = join(cgroup2, `palisade-test-${process.pid}`);
  }

  /** v4 address on side a (i: 1, 11, 12) or b (2..5). */
  v4(host: number): string {
    return `10.213.${this.subnet}.${host}`;
  }

  v6(host: number): string {
    return `fd00:213::${this.subnet.toString(16)}:${host.toString(16)}`;
  }

  static create(cgroup2: string): TestNet {
    const n = new TestNet(cgroup2);
    try {
      n.#setup();
    } catch (e) {
      void n.destroy();
      throw e;
    }
    return n;
  }

  #setup(): void {
    const { nsA, nsB } = this;
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    sh('ip', ['-n', nsA, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', nsB]);
    for (const [ns, dev, hosts] of [[nsA, 'a0', [1, 11, 12]], [nsB, 'b0', [2, 3, 4, 5]]] as const) {
      // no DAD: v6 addresses are usable at once
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      for (const h of hosts) sh('ip', ['-n', ns, 'addr', 'add', `${this.v4(h)}/24`, 'dev', dev]);
      sh('ip', ['-n', ns, 'addr', 'add', `${this.v6(hosts[0])}/64`, 'dev', dev, 'nodad']);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    mkdirSync(this.cgRoot, { recursive: true });
  }

  /** A cgroup for one workload under the test's cgroup. */
  workload(name: string): Workload {
    const path = join(this.cgRoot, name);
    mkdirSync(path, { recursive: true });
    this.#cgroups.push(path);
    return { name, path, id: BigInt(statSync(path).ino) };
  }

  /** Starts netpeer.mjs in namespace `ns` and cgroup `w` (the pid joins the cgroup before exec). */
  async spawn(ns: 'a' | 'b', w: Workload): Promise<{ peer: Peer; pid: number }> {
    const nsName = ns === 'a' ? this.nsA : this.nsB;
    const script = `echo $$ > '${w.path}/cgroup.procs' && exec ip netns exec '${nsName}' '${process.execPath}' '${PEER_SCRIPT}'`;
    const proc = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new Peer(proc, nsName, w.path);
    this.#peers.push(peer);
    const pid = await peer.ready();
    return { peer, pid };
  }

  /** Reads a /proc/net/snmp counter (e.g. "Tcp", "ActiveOpens") inside a namespace. */
  snmp(ns: 'a' | 'b', group: string, field: string): number {
    const text = sh('ip', ['netns', 'exec', ns === 'a' ? this.nsA : this.nsB, 'cat', '/proc/net/snmp']);
    const lines = text.split('\n').filter((l) => l.startsWith(`${group}:`));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf(field)]);
  }

  /** Packets a namespace's veth has sent (tx) or received (rx). */
  linkPackets(ns: 'a' | 'b', dir: 'tx' | 'rx'): number {
    const dev = ns === 'a' ? 'a0' : 'b0';
    const text = sh('ip', ['netns', 'exec', ns === 'a' ? this.nsA : this.nsB, 'cat', `/sys/class/net/${dev}/statistics/${dir}_packets`]);
    return Number(text.trim());
  }

  /** Kills the processes, removes the cgroups and namespaces. Never throws; safe to call twice.
   *  Async: the killed processes must be reaped (by this event loop) before their cgroups go. */
  async destroy(): Promise<void> {
    for (const p of this.#peers) p.kill();
    await Promise.all(this.#peers.map((p) => (p.proc.exitCode !== null || p.proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((res) => {
        p.proc.once('exit', () => res());
        setTimeout(res, 3000);
      }))));
    this.#peers.length = 0;
    const deadline = Date.now() + 5000;
    for (const path of [...this.#cgroups].reverse()) {
      for (;;) {
        try {
          if (existsSync(path)) {
            for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean)) {
              try {
                process.kill(Number(pid), 'SIGKILL');
              } catch {
                // gone
              }
            }
            rmdirSync(path);
          }
          break;
        } catch (e) {
          if (Date.now() > deadline) {
            console.warn(`TestNet: cannot remove ${path}: ${(e as Error).message}`);
            break;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }
    this.#cgroups.length = 0;
    try {
      if (existsSync(this.cgRoot)) rmdirSync(this.cgRoot);
    } catch (e) {
      console.warn(`TestNet: cannot remove ${this.cgRoot}: ${(e as Error).message}`);
    }
    for (const ns of [this.nsA, this.nsB]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // not created
      }
    }
  }
}

/** Writes one line into a cgroup control file (helper for tests that move processes). */
export function cgroupWrite(path: string, file: string, value: string): void {
  writeFileSync(join(path, file), value);
}
