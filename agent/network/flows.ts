// pal_net records → network_flow events (network/flows/types.ts): both ends named by identity and
// labels, the deciding rule by policy and field path, DNS payloads parsed.
import { parseDns } from '../../network/datapath/dns.js';
import type { NetRecord } from '../../network/datapath/layout.js';
import { flowDirection, type FlowEndpoint, type FlowEvent, type FlowJson, type FlowPolicyRef } from '../../network/flows/types.js';
import { ID, type RuleInfo } from '../../network/model.js';

/** Who an identity is, for flow endpoints. */
export interface IdentityInfo {
  labels: string[];
  namespace?: string;
  workload?: string;
}

export interface FlowContext {
  identity(id: number): IdentityInfo;
  /** The workload's own addresses (its netns'), by its cgroup. */
  addressesOf(cgroupId: bigint): readonly string[];
  rule(id: number): RuleInfo | undefined;
  /** The policy whose default deny decided a verdict no rule matched. */
  defaultDeny?(localId: number, direction: NetRecord['direction'], audit: boolean): { name: string; namespace: string | null; kind: string } | undefined;
}

const PROTOCOLS: Record<number, string> = { 1: 'ICMPv4', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

function endpoint(info: IdentityInfo, identity: number, ip: string, port: number): FlowEndpoint {
  const e: FlowEndpoint = { identity, labels: info.labels, ip, port };
  if (info.namespace !== undefined) e.namespace = info.namespace;
  if (info.workload !== undefined) e.workload = info.workload;
  return e;
}

function policyRef(r: NetRecord, ctx: FlowContext): FlowPolicyRef | undefined {
  if (r.verdict === null) return undefined;
  const rule = r.ruleId !== 0 ? ctx.rule(r.ruleId) : undefined;
  if (rule) {
    const ref: FlowPolicyRef = { name: rule.policy, kind: rule.kind, rule: rule.path, mode: rule.mode };
    if (rule.namespace !== null) ref.namespace = rule.namespace;
    return ref;
  }
  // No rule matched: the direction's default (deny, or audit where only audit policies select it).
  if (r.verdict === 'FORWARDED') return undefined;
  const audit = r.verdict === 'AUDIT';
  const by = ctx.defaultDeny?.(r.localId, r.direction, audit);
  const ref: FlowPolicyRef = { name: by?.name ?? '', kind: by?.kind ?? '', rule: 'default-deny', mode: audit ? 'audit' : 'enforce' };
  if (by && by.namespace !== null) ref.namespace = by.namespace;
  return ref;
}

/** At connect() the kernel has not chosen the source address yet: a workload with one address of
 *  that family has no other to use, so the flow names it; otherwise the record's (unspecified) one. */
function localAddress(r: NetRecord, ctx: FlowContext): string {
  if (r.localAddr !== '0.0.0.0' && r.localAddr !== '::') return r.localAddr;
  let only: string | undefined;
  for (const ip of ctx.addressesOf(r.cgroupId)) {
    if (ip.includes(':') !== (r.family === 6)) continue;
    if (only !== undefined) return r.localAddr; // several: which one the kernel will pick is not known
    only = ip;
  }
  return only ?? r.localAddr;
}

const EVENTS: Record<NetRecord['kind'], FlowEvent> = { verdict: 'verdict', connect: 'connect', accept: 'accept', close: 'close', dns: 'dns_query' };

/** The flow of one record. */
export function flowOf(r: NetRecord, ctx: FlowContext): FlowJson {
  const protocol = PROTOCOLS[r.protocol] ?? String(r.protocol);
  const icmp = r.protocol === 1 || r.protocol === 58;
  const local = endpoint(ctx.identity(r.localId), r.localId, localAddress(r, ctx), icmp ? 0 : r.localPort);
  const peer = endpoint(ctx.identity(r.peerId), r.peerId, r.peerAddr, icmp ? 0 : r.peerPort);
  const egress = r.direction === 'egress';
  const flow: FlowJson = {
    type: r.kind === 'verdict' ? 'policy-verdict' : r.kind === 'dns' ? 'dns' : 'l4',
    event: EVENTS[r.kind],
    verdict: r.verdict ?? 'FORWARDED',
    traffic_direction: flowDirection(r.direction),
    protocol,
    source: egress ? local : peer,
    destination: egress ? peer : local,
  };
  const policy = r.kind === 'verdict' ? policyRef(r, ctx) : undefined;
  if (policy) flow.policy = policy;
  if (r.kind === 'close') flow.bytes = { sent: r.bytesAcked, received: r.bytesReceived };
  if (icmp) flow.icmp = { type: r.peerPort & 0xff, code: 0 };
  if (r.kind === 'dns') {
    const m = parseDns(r.data);
    flow.event = m.response ? 'dns_answer' : 'dns_query';
    flow.dns = { id: m.id, query: m.name, qtypes: [m.qtypeName] };
    if (m.response) {
      const ips: string[] = [];
      const cnames: string[] = [];
      for (const a of m.answers) (a.type === 'CNAME' ? cnames : ips).push(a.data);
      Object.assign(flow.dns, { rcode: m.rcodeName, ips, cnames });
    }
  }
  if (r.cookie !== 0n) flow.socket_cookie = String(r.cookie);
  return flow;
}

const RESERVED: ReadonlyMap<number, IdentityInfo> = new Map([
  [ID.HOST, { labels: ['reserved:host'] }],
  [ID.WORLD, { labels: ['reserved:world'] }],
  [ID.ANY, { labels: [] }],
]);

/** Labels of reserved identities, as Cilium names them (shared objects: never modified). */
export function reservedIdentity(id: number): IdentityInfo | undefined {
  return RESERVED.get(id);
}
