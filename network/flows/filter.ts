// Flow filters for `palisade observe` and the agent's observe op: one JSON-serialisable spec the
// CLI builds from flags and the agent compiles, so both sides check and match flows alike.
// Within a field any value matches (--verdict DROPPED --verdict AUDIT); labels must all match;
// fields combine with AND.
import { BlockList, isIP } from 'node:net';
import { unknownValue } from '../../tracing/policy/errors.js';
import type { Verdict } from '../model.js';
import type { FlowEndpoint, FlowJson, FlowType } from './types.js';

export const VERDICTS: readonly Verdict[] = ['FORWARDED', 'DROPPED', 'AUDIT'];
export const FLOW_TYPES: readonly FlowType[] = ['l4', 'dns', 'policy-verdict'];
/** `icmp` is either family. */
export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv4', 'icmpv6'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

/** The Kubernetes pod name label --from-pod/--to-pod match (workloads get it from Kubernetes). */
export const POD_NAME_LABEL = 'k8s:io.kubernetes.pod.name';

/** What a client asks for. Values arrive as text (flags, a JSON request): compileFlowFilter checks them. */
export interface FlowFilterSpec {
  /** FORWARDED, DROPPED, AUDIT. */
  verdicts?: string[];
  /** l4, dns, policy-verdict. */
  types?: string[];
  /** tcp, udp, icmp (either family), icmpv4, icmpv6. */
  protocols?: string[];
  /** "k=v" (or "k": the key is present); every one must match. */
  fromLabels?: string[];
  toLabels?: string[];
  /** "[namespace/]name"; namespace "default" when absent. */
  fromPods?: string[];
  toPods?: string[];
  /** Addresses or CIDR prefixes. */
  fromIps?: string[];
  toIps?: string[];
  /** Source or destination port. */
  ports?: number[];
}

/** What filters look at: the flow's own fields, no process block. */
export type FlowFields = Pick<FlowJson, 'type' | 'verdict' | 'protocol' | 'source' | 'destination'>;

export type FlowMatcher = (f: FlowFields) => boolean;

/** A bad filter value, named by its command-line flag. */
export class FilterError extends Error {}

const FLAG: Record<keyof FlowFilterSpec, string> = {
  verdicts: '--verdict', types: '--type', protocols: '--protocol', fromLabels: '--from-label', toLabels: '--to-label',
  fromPods: '--from-pod', toPods: '--to-pod', fromIps: '--from-ip', toIps: '--to-ip', ports: '--port',
};

const PROTOCOL_NAMES: Record<ProtocolName, readonly string[]> = {
  tcp: ['TCP'], udp: ['UDP'], icmp: ['ICMPv4', 'ICMPv6'], icmpv4: ['ICMPv4'], icmpv6: ['ICMPv6'],
};

function oneOf<T extends string>(field: keyof FlowFilterSpec, what: string, values: readonly unknown[], allowed: readonly T[]): Set<T> {
  for (const v of values) {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new FilterError(`${FLAG[field]}: ${unknownValue(what, String(v), allowed)}`);
    }
  }
  return new Set(values as T[]);
}

/** `app=web` matches that label; `app` matches any value of key app (and a bare label like reserved:host). */
function labelMatcher(field: keyof FlowFilterSpec, sel: unknown): (labels: readonly string[]) => boolean {
  if (typeof sel !== 'string' || sel === '' || sel.startsWith('=')) throw new FilterError(`${FLAG[field]}: expected key=value or key, got ${JSON.stringify(sel)}`);
  if (sel.includes('=')) return (labels) => labels.includes(sel);
  const prefix = `${sel}=`;
  return (labels) => labels.some((l) => l === sel || l.startsWith(prefix));
}

function podMatcher(field: keyof FlowFilterSpec, sel: unknown): (e: FlowEndpoint) => boolean {
  if (typeof sel !== 'string' || !/^([a-z0-9-]+\/)?[A-Za-z0-9._-]+$/.test(sel)) {
    throw new FilterError(`${FLAG[field]}: expected [namespace/]pod-name, got ${JSON.stringify(sel)}`);
  }
  const slash = sel.indexOf('/');
  const ns = slash < 0 ? 'default' : sel.slice(0, slash);
  const label = `${POD_NAME_LABEL}=${sel.slice(slash + 1)}`;
  return (e) => (e.namespace ?? 'default') === ns && e.labels.includes(label);
}

function ipMatcher(field: keyof FlowFilterSpec, values: readonly unknown[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const v of values) {
    const bad = (): never => {
      throw new FilterError(`${FLAG[field]}: expected an address or a CIDR prefix (10.0.0.1, 10.0.0.0/8, fd00::/64), got ${JSON.stringify(v)}`);
    };
    if (typeof v !== 'string') bad();
    const [addr = '', bits, extra] = (v as string).split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined) bad();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const n = /^\d+$/.test(bits) ? Number(bits) : -1;
      if (n < 0 || n > (family === 4 ? 32 : 128)) bad();
      list.addSubnet(addr, n, type);
    }
  }
  return (ip) => {
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** Checks the spec (throwing a FilterError naming the flag) and returns the matcher it stands for. */
export function compileFlowFilter(spec: FlowFilterSpec): FlowMatcher {
  const tests: FlowMatcher[] = [];
  const list = (field: keyof FlowFilterSpec): unknown[] | undefined => {
    const v = spec[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw new FilterError(`${FLAG[field]}: expected a list of values`);
    return v.length === 0 ? undefined : (v as unknown[]);
  };
  const verdicts = list('verdicts');
  if (verdicts) {
    const s = oneOf('verdicts', 'verdict', verdicts, VERDICTS);
    tests.push((f) => s.has(f.verdict));
  }
  const types = list('types');
  if (types) {
    const s = oneOf('types', 'type', types, FLOW_TYPES);
    tests.push((f) => s.has(f.type));
  }
  const protocols = list('protocols');
  if (protocols) {
    const names = new Set([...oneOf('protocols', 'protocol', protocols, PROTOCOLS)].flatMap((p) => PROTOCOL_NAMES[p]));
    tests.push((f) => names.has(f.protocol));
  }
  for (const [field, side] of [['fromLabels', 'source'], ['toLabels', 'destination']] as const) {
    const sels = list(field)?.map((s) => labelMatcher(field, s));
    if (sels) tests.push((f) => sels.every((m) => m(f[side].labels)));
  }
  for (const [field, side] of [['fromPods', 'source'], ['toPods', 'destination']] as const) {
    const pods = list(field)?.map((s) => podMatcher(field, s));
    if (pods) tests.push((f) => pods.some((m) => m(f[side])));
  }
  for (const [field, side] of [['fromIps', 'source'], ['toIps', 'destination']] as const) {
    const ips = list(field);
    if (ips) {
      const m = ipMatcher(field, ips);
      tests.push((f) => m(f[side].ip));
    }
  }
  const ports = list('ports');
  if (ports) {
    for (const p of ports) {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 65535) throw new FilterError(`--port: expected a port from 0 to 65535, got ${JSON.stringify(p)}`);
    }
    const s = new Set(ports as number[]);
    tests.push((f) => s.has(f.source.port) || s.has(f.destination.port));
  }
  return (f) => {
    for (const t of tests) if (!t(f)) return false;
    return true;
  };
}
