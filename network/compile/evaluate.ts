// A reference evaluator of netpol.h's lookup over a DatapathState, in plain TypeScript: what the kernel
// would decide for a packet. Used by the unit truth table, the e2e test and `netpol` debugging.
import { containsAddr, parseIp, parsePrefix, type Prefix } from '../identity/cidr.js';
import { ID, type DatapathState, type Direction, type IdentityDefaults, type PolicyEntry, type Verdict, type VerdictHalf } from '../model.js';
import { portMask } from './l4.js';

export interface DirectionVerdict {
  verdict: Verdict;
  localId: number;
  peerId: number;
  /** The rule the verdict event names; 0 for a default (no rule matched). */
  ruleId: number;
  /** Why, for people: which half decided and how. */
  reason: 'allowed' | 'denied' | 'default-deny' | 'no-policy';
}

export interface FlowQuery {
  /** The sending workload's cgroup (absent: not a workload, egress is not policed). */
  srcCgroup?: bigint;
  srcIp: string;
  dstCgroup?: bigint;
  dstIp: string;
  /** IPPROTO number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  proto: number;
  /** Destination port, or the ICMP type. */
  port: number;
  /** Process marks of the sender (binaries rules). */
  marks?: bigint;
}

export interface FlowVerdict {
  verdict: Verdict;
  egress?: DirectionVerdict;
  ingress?: DirectionVerdict;
}

type HalfName = 'enf' | 'all';

export class StateEvaluator {
  private readonly entries = new Map<string, PolicyEntry[]>();
  private readonly ipcache: Array<{ prefix: Prefix; identity: number }>;
  private readonly cgroups = new Map<bigint, number>();
  private readonly defaults = new Map<number, IdentityDefaults>();

  constructor(state: DatapathState) {
    for (const e of state.policy) {
      const k = `${e.dir}:${e.localId}:${e.peerId}`;
      const list = this.entries.get(k);
      if (list) list.push(e);
      else this.entries.set(k, [e]);
    }
    this.ipcache = state.ipcache
      .map((e) => ({ prefix: parsePrefix(e.cidr) as Prefix, identity: e.identity }))
      .sort((a, b) => b.prefix.bits - a.prefix.bits);
    for (const c of state.cgroups) this.cgroups.set(c.cgroupId, c.identity);
    for (const d of state.defaults) this.defaults.set(d.localId, d);
  }

  /** pal_np_ipcache: the longest prefix's identity, WORLD without one. */
  identityOf(ip: string): number {
    const a = parseIp(ip);
    if (!a) throw new Error(`not an IP address: ${ip}`);
    for (const e of this.ipcache) if (containsAddr(e.prefix, a.addr)) return e.identity;
    return ID.WORLD;
  }

  localOf(cgroupId: bigint): number | undefined {
    return this.cgroups.get(cgroupId);
  }

  /** The LPM lookup of one (dir, local, peer) key: the most specific entry covering proto/port. */
  lookup(dir: Direction, localId: number, peerId: number, proto: number, port: number): PolicyEntry | undefined {
    let best: PolicyEntry | undefined;
    let bestLen = -1;
    for (const e of this.entries.get(`${dir}:${localId}:${peerId}`) ?? []) {
      let len: number;
      if (e.proto === null) len = 64;
      else if (e.proto === proto && (port & portMask(e.portBits)) === e.port) len = 72 + e.portBits;
      else continue;
      if (len > bestLen) {
        best = e;
        bestLen = len;
      }
    }
    return best;
  }

  /** One direction at one workload, as the kernel decides it. */
  decide(dir: Direction, localId: number, peerId: number, proto: number, port: number, marks = 0n): DirectionVerdict {
    const a = this.lookup(dir, localId, peerId, proto, port);
    const b = peerId === ID.ANY ? undefined : this.lookup(dir, localId, ID.ANY, proto, port);
    const d = this.defaults.get(localId);
    const half = (h: HalfName): { deny: boolean; rule: number; byDefault: boolean } => {
      const xs = [a?.[h], b?.[h]].filter((x): x is VerdictHalf => x !== undefined);
      const denier = xs.find((x) => x.deny || (x.denyMarks & marks) !== 0n);
      if (denier) return { deny: true, rule: denier.denyRule, byDefault: false };
      const allower = xs.find((x) => x.allow || (x.allowMarks & marks) !== 0n);
      if (allower) return { deny: false, rule: allower.allowRule, byDefault: false };
      const defaultDeny = !!d && (dir === 'ingress' ? (h === 'enf' ? d.ingressEnf : d.ingressAll) : h === 'enf' ? d.egressEnf : d.egressAll);
      return { deny: defaultDeny, rule: 0, byDefault: true };
    };
    const enf = half('enf');
    const all = half('all');
    const base = { localId, peerId };
    if (enf.deny) return { ...base, verdict: 'DROPPED', ruleId: enf.rule, reason: enf.byDefault ? 'default-deny' : 'denied' };
    if (all.deny) return { ...base, verdict: 'AUDIT', ruleId: all.rule, reason: all.byDefault ? 'default-deny' : 'denied' };
    const allowed = !all.byDefault || !enf.byDefault;
    // as np_evaluate: the enforce half's rule, else the all half's
    return { ...base, verdict: 'FORWARDED', ruleId: enf.rule || all.rule, reason: allowed ? 'allowed' : 'no-policy' };
  }

  /** A packet from src to dst: egress at the sender, then ingress at the receiver, each if it is a workload. */
  flow(q: FlowQuery): FlowVerdict {
    const out: FlowVerdict = { verdict: 'FORWARDED' };
    const src = q.srcCgroup === undefined ? undefined : this.localOf(q.srcCgroup);
    const dst = q.dstCgroup === undefined ? undefined : this.localOf(q.dstCgroup);
    if (src !== undefined) out.egress = this.decide('egress', src, this.identityOf(q.dstIp), q.proto, q.port, q.marks ?? 0n);
    if (dst !== undefined) out.ingress = this.decide('ingress', dst, this.identityOf(q.srcIp), q.proto, q.port);
    const vs = [out.egress?.verdict, out.ingress?.verdict];
    out.verdict = vs.includes('DROPPED') ? 'DROPPED' : vs.includes('AUDIT') ? 'AUDIT' : 'FORWARDED';
    return out;
  }
}
