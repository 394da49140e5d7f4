// The exported shape of network events: one `flow` object per record, in the spirit of Hubble's
// flow (verdict, IP, l4, source/destination endpoints, the policy that decided) plus our process block.
// Exported as {"network_flow": {...FlowJson, "process": {…}, "parent": {…}}, "node_name", "time"}: process
// and parent are present when the record names a task: the caller for connect, sendmsg and DNS
// queries; for packets that arrive (ingress verdicts run in softirq) the receiving socket's owner when
// the datapath knows it (an accepted socket inherits its listener's), else absent.
// The pipeline builds it from a pal_net record; `palisade observe` filters and prints it.

import type { Direction, PolicyMode, Verdict } from '../model.js';

/** What happened: a policy decision, a connection's life, or a DNS message. */
export type FlowEvent = 'verdict' | 'connect' | 'accept' | 'close' | 'dns_query' | 'dns_answer';
/** `palisade observe --type`: policy-verdict = verdict events, l4 = connect/accept/close, dns. */
export type FlowType = 'policy-verdict' | 'l4' | 'dns';

export interface FlowEndpoint {
  /** Numeric identity (netpol.h): 1 host, 2 world, ≥ 256 workloads, CIDR identities have bit 24 set. */
  identity: number;
  /** "k=v" labels, sorted; reserved identities carry "reserved:host" / "reserved:world". */
  labels: string[];
  namespace?: string;
  /** The workload's cgroup path, when the endpoint is a workload. */
  workload?: string;
  ip: string;
  port: number;
}

export interface FlowPolicyRef {
  name: string;
  namespace?: string;
  kind: string;
  /** Field path of the deciding rule, e.g. "spec.egress[1]"; "default-deny" when no rule matched. */
  rule: string;
  mode: PolicyMode;
}

export interface FlowDns {
  id: number;
  query: string;
  qtypes: string[];
  /** Answers only: "NOERROR", "NXDOMAIN", … */
  rcode?: string;
  ips?: string[];
  cnames?: string[];
}

export interface FlowJson {
  type: FlowType;
  event: FlowEvent;
  /** Verdict events; connection and DNS events of allowed traffic say FORWARDED. */
  verdict: Verdict;
  traffic_direction: 'INGRESS' | 'EGRESS';
  /** TCP, UDP, ICMPv4, ICMPv6. */
  protocol: string;
  /** source = who sent the first packet: the workload for egress, the peer for ingress. */
  source: FlowEndpoint;
  destination: FlowEndpoint;
  /** Verdict events with a deciding rule or default deny; absent when no policy selects the workload. */
  policy?: FlowPolicyRef;
  /** close events. */
  bytes?: { sent: number; received: number };
  dns?: FlowDns;
  icmp?: { type: number; code: number };
  socket_cookie?: string;
}

export const flowDirection = (d: Direction): FlowJson['traffic_direction'] => (d === 'ingress' ? 'INGRESS' : 'EGRESS');
