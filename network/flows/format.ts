// Flows for people: one compact line per flow in the spirit of `hubble observe`, or table rows.
//
//   Nov 23 01:02:03.456: 10.213.0.1:40512 (app=web) -> 10.213.0.2:443 (app=db) policy-verdict egress DROPPED TCP by default/web-deny spec.egressDeny[0] /usr/bin/curl[4711]
import type { ExportedFlow, FlowProcess } from './history.js';
import { POD_NAME_LABEL } from './filter.js';
import type { FlowEndpoint, FlowJson } from './types.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Labels that say which instance, not what it is: left out of the short endpoint summary. */
const INSTANCE_LABELS = ['container-id=', 'k8s:io.kubernetes.pod.uid=', `${POD_NAME_LABEL}=`];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** "Nov 23 01:02:03.456" in UTC, as event times are; "?" for an unknown time. */
export function shortTime(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '?';
  const d = new Date(ms);
  return `${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** "10.0.0.1:443", "[fd00::1]:443"; the address alone for ICMP (no ports). */
export function hostPort(e: FlowEndpoint, protocol: string): string {
  if (protocol.startsWith('ICMP')) return e.ip;
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Who an endpoint is, briefly: "default/web-1" (a pod), "app=web,tier=front", "world", "ID:300". */
export function endpointName(e: FlowEndpoint): string {
  const pod = e.labels.find((l) => l.startsWith(`${POD_NAME_LABEL}=`));
  if (pod) return `${e.namespace ?? 'default'}/${pod.slice(POD_NAME_LABEL.length + 1)}`;
  const shown = e.labels.filter((l) => !INSTANCE_LABELS.some((p) => l.startsWith(p))).map((l) => (l.startsWith('reserved:') ? l.slice(9) : l));
  if (shown.length > 0) return shown.join(',');
  return e.workload ?? `ID:${e.identity}`;
}

const ICMP4_TYPES: Record<number, string> = { 0: 'EchoReply', 3: 'DestinationUnreachable', 5: 'Redirect', 8: 'EchoRequest', 11: 'TimeExceeded' };
const ICMP6_TYPES: Record<number, string> = { 1: 'DestinationUnreachable', 2: 'PacketTooBig', 3: 'TimeExceeded', 128: 'EchoRequest', 129: 'EchoReply', 135: 'NeighborSolicitation', 136: 'NeighborAdvertisement' };

/** "TCP", "ICMPv4 EchoRequest", "ICMPv6 type 200 code 0". */
export function protocolText(f: FlowJson): string {
  if (!f.icmp) return f.protocol;
  const name = (f.protocol === 'ICMPv6' ? ICMP6_TYPES : ICMP4_TYPES)[f.icmp.type];
  return name !== undefined && f.icmp.code === 0 ? `${f.protocol} ${name}` : `${f.protocol} type ${f.icmp.type} code ${f.icmp.code}`;
}

/** "policy-verdict", "l4 connect", "dns query". */
export function eventText(f: FlowJson): string {
  switch (f.event) {
    case 'verdict':
      return 'policy-verdict';
    case 'dns_query':
      return 'dns query';
    case 'dns_answer':
      return 'dns answer';
    default:
      return `l4 ${f.event}`;
  }
}

/** "DROPPED", "AUDIT (would drop)". */
export function verdictText(f: FlowJson): string {
  return f.verdict === 'AUDIT' ? 'AUDIT (would drop)' : f.verdict;
}

/** The rule that decided: "by default/web-deny spec.egressDeny[0]", "by default deny of web-only (audit)". */
export function policyText(f: FlowJson): string {
  const p = f.policy;
  if (!p) return '';
  const name = p.namespace ? `${p.namespace}/${p.name}` : p.name;
  const rule = p.rule === 'default-deny' ? `default deny of ${name}` : `${name} ${p.rule}`;
  return `by ${rule}${p.mode === 'audit' ? ' (audit)' : ''}`;
}

/** What the event adds: the rule, bytes of a closed connection, the DNS question and answer. */
export function detailText(f: FlowJson): string {
  const parts: string[] = [];
  const pol = policyText(f);
  if (pol) parts.push(pol);
  if (f.bytes) parts.push(`sent ${f.bytes.sent} B received ${f.bytes.received} B`);
  if (f.dns) {
    const d = f.dns;
    parts.push(`${d.query} ${d.qtypes.join(',')}`);
    if (d.rcode !== undefined) parts.push(d.rcode);
    if (d.cnames && d.cnames.length > 0) parts.push(`cname ${d.cnames.join(',')}`);
    if (d.ips && d.ips.length > 0) parts.push(d.ips.join(','));
  }
  return parts.join(' ');
}

export function processText(p: FlowProcess | undefined): string {
  if (!p || (p.binary === undefined && p.pid === undefined)) return '';
  return `${p.binary ?? '?'}[${p.pid ?? '?'}]`;
}

/** One line per flow; `time` is the flow's epoch ms (parsed once by the reader). */
export function compactFlowLine(ev: ExportedFlow, time: number): string {
  return `${shortTime(time)}: ${flowSummary(ev)}`;
}

/** The flow in words, without its time: who to whom, what, the verdict and why, which process. */
export function flowSummary(ev: ExportedFlow): string {
  const f = ev.network_flow;
  const words = [
    `${hostPort(f.source, f.protocol)} (${endpointName(f.source)})`,
    '->',
    `${hostPort(f.destination, f.protocol)} (${endpointName(f.destination)})`,
    eventText(f),
    f.traffic_direction.toLowerCase(),
    verdictText(f),
    protocolText(f),
    detailText(f),
    processText(f.process),
  ];
  return words.filter((w) => w !== '').join(' ');
}

export const TABLE_HEADER = ['TIME', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY'] as const;

/** One table row: the cells of TABLE_HEADER. */
export function flowTableRow(ev: ExportedFlow, time: number): string[] {
  const f = ev.network_flow;
  const summary = [f.traffic_direction.toLowerCase(), protocolText(f), detailText(f), processText(f.process)].filter((w) => w !== '').join(' ');
  return [
    shortTime(time),
    `${hostPort(f.source, f.protocol)} (${endpointName(f.source)})`,
    `${hostPort(f.destination, f.protocol)} (${endpointName(f.destination)})`,
    eventText(f),
    verdictText(f),
    summary,
  ];
}

/**
 * Aligned columns. fit() the rows at hand first so they line up together; later rows (a followed
 * stream) widen a column when they must, and lines already printed stay as they are.
 */
export class TableWriter {
  private widths: number[];

  constructor(header: readonly string[]) {
    this.widths = header.map((h) => h.length);
  }

  /** Widens the columns for rows about to be printed. */
  fit(rows: ReadonlyArray<readonly string[]>): void {
    for (const r of rows) r.forEach((c, i) => (this.widths[i] = Math.max(this.widths[i] ?? 0, c.length)));
  }

  line(row: readonly string[]): string {
    this.fit([row]);
    return row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(this.widths[i]!))).join('  ').trimEnd();
  }
}
