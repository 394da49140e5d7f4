// L4 matches: Cilium toPorts and icmps, NetworkPolicy ports.
import { isScalar, type Node } from 'yaml';
import { unknownValue } from '../../tracing/policy/errors.js';
import { describe, join, readEach, readObj, type Ctx, type Item } from '../../tracing/policy/reader.js';
import type { IcmpMatch, L4Protocol, PortMatch } from './types.js';

const CILIUM_PROTOCOLS = ['TCP', 'UDP', 'ANY'];
const K8S_PROTOCOLS = ['TCP', 'UDP'];
const SCTP = 'not supported by Palisade: the datapath reads TCP and UDP ports only';

const UNSUPPORTED_PORT_RULE = {
  rules: 'L7 rules (HTTP, DNS, Kafka) are not implemented; Palisade enforces L3/L4',
  serverNames: 'TLS SNI matching is not implemented',
  listener: 'Envoy listeners are not implemented',
  originatingTLS: 'TLS interception is not implemented',
  terminatingTLS: 'TLS interception is not implemented',
};

/** Cilium's ICMP type names (ICMPRule), per family. */
const ICMP_TYPES: Record<'IPv4' | 'IPv6', Record<string, number>> = {
  IPv4: {
    EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, EchoRequest: 8, RouterAdvertisement: 9, RouterSelection: 10,
    TimeExceeded: 11, ParameterProblem: 12, Timestamp: 13, TimestampReply: 14, Photuris: 40,
    ExtendedEchoRequest: 42, ExtendedEchoReply: 43,
  },
  IPv6: {
    DestinationUnreachable: 1, PacketTooBig: 2, TimeExceeded: 3, ParameterProblem: 4, EchoRequest: 128, EchoReply: 129,
    MulticastListenerQuery: 130, MulticastListenerReport: 131, MulticastListenerDone: 132, RouterSolicitation: 133,
    RouterAdvertisement: 134, NeighborSolicitation: 135, NeighborAdvertisement: 136, RedirectMessage: 137,
    RouterRenumbering: 138, ICMPNodeInformationQuery: 139, ICMPNodeInformationResponse: 140,
    InverseNeighborDiscoverySolicitation: 141, InverseNeighborDiscoveryAdvertisement: 142,
    HomeAgentAddressDiscoveryRequest: 144, HomeAgentAddressDiscoveryReply: 145, MobilePrefixSolicitation: 146,
    MobilePrefixAdvertisement: 147, DuplicateAddressRequestCodeSuffix: 157, DuplicateAddressConfirmationCodeSuffix: 158,
    ExtendedEchoRequest: 160, ExtendedEchoReply: 161,
  },
};

/** A port number, written as a number or a numeric string (Cilium writes "80"); 0 = every port. */
function readPort(ctx: Ctx, node: Node | null, path: string): number | undefined {
  if (isScalar(node)) {
    const v = node.value;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
    if (typeof v === 'string' && /^[a-z]/i.test(v)) {
      ctx.error(node, path, `named port ${JSON.stringify(v)} is not supported: Palisade does not know container port names; use the port number`);
      return undefined;
    }
  }
  ctx.error(node, path, `expected a port number from 0 to 65535, got ${describe(node)}`);
  return undefined;
}

function readProtocol(ctx: Ctx, node: Node | null, path: string, known: string[]): L4Protocol | undefined {
  const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  if (text === undefined) {
    ctx.error(node, path, `expected a protocol (${known.join(', ')}), got ${describe(node)}`);
    return undefined;
  }
  if (known.includes(text)) return text as L4Protocol;
  if (text === 'SCTP') ctx.error(node, path, `protocol SCTP is ${SCTP}`);
  else ctx.error(node, path, unknownValue('protocol', text, [...known, 'SCTP']));
  return undefined;
}

/** One port entry: Cilium PortProtocol or NetworkPolicyPort (the same shape, different defaults). */
function readPortEntry(ctx: Ctx, it: Item, cilium: boolean): PortMatch | undefined {
  const o = readObj(ctx, it.node, it.path, ['port', 'endPort', 'protocol']);
  if (!o) return undefined;
  const pf = o.value('port');
  const port = pf ? readPort(ctx, pf.value, pf.path) : 0;
  const prf = o.value('protocol');
  const protocol = prf ? readProtocol(ctx, prf.value, prf.path, cilium ? CILIUM_PROTOCOLS : K8S_PROTOCOLS) : cilium ? 'ANY' : 'TCP';
  const ef = o.value('endPort');
  let endPort = port;
  if (ef) {
    const e = o.int('endPort', 1, 65535);
    if (e === undefined) return undefined;
    if (!port) {
      ctx.error(ef.key, ef.path, 'endPort needs a port to start the range');
      return undefined;
    }
    if (port !== undefined && e < port) {
      ctx.error(ef.value, ef.path, `endPort ${e} is below port ${port}`);
      return undefined;
    }
    endPort = e;
  }
  if (port === undefined || protocol === undefined || endPort === undefined) return undefined;
  return { protocol, port, endPort: port === 0 ? 0 : endPort };
}

/** Cilium toPorts: a list of {ports: [...]}; undefined after an error. */
export function parseCiliumToPorts(ctx: Ctx, items: Item[]): PortMatch[] | undefined {
  const rules = readEach(items, (it): PortMatch[] | undefined => {
    const o = readObj(ctx, it.node, it.path, ['ports'], UNSUPPORTED_PORT_RULE);
    if (!o || o.rejectedKeys > 0) return undefined;
    const ports = o.seq('ports') ?? [];
    // Cilium: a PortRule with no ports applies to every port.
    if (ports.length === 0) return [{ protocol: 'ANY', port: 0, endPort: 0 }];
    return readEach(ports, (p) => readPortEntry(ctx, p, true));
  });
  // concat sizes the list exactly (parsed rules are kept, tens of thousands of them)
  return rules && ([] as PortMatch[]).concat(...rules);
}

/** NetworkPolicy ports; protocol defaults to TCP, a missing port means every port. */
export function parseK8sPorts(ctx: Ctx, items: Item[]): PortMatch[] | undefined {
  return readEach(items, (it) => readPortEntry(ctx, it, false));
}

/** Cilium icmps: a list of {fields: [{family, type}]}; type is a number or Cilium's type name. */
export function parseIcmps(ctx: Ctx, items: Item[]): IcmpMatch[] | undefined {
  const out: IcmpMatch[] = [];
  let ok = true;
  for (const it of items) {
    const o = readObj(ctx, it.node, it.path, ['fields']);
    if (!o) {
      ok = false;
      continue;
    }
    for (const f of o.seq('fields', true) ?? []) {
      const fo = readObj(ctx, f.node, f.path, ['family', 'type']);
      if (!fo) {
        ok = false;
        continue;
      }
      const fam = fo.str('family') ?? 'IPv4';
      if (fam !== 'IPv4' && fam !== 'IPv6') {
        ctx.error(fo.get('family')!.value, join(f.path, 'family'), unknownValue('ICMP family', fam, ['IPv4', 'IPv6']));
        ok = false;
        continue;
      }
      const tf = fo.value('type', true);
      if (!tf) {
        ok = false;
        continue;
      }
      const v = isScalar(tf.value) ? tf.value.value : undefined;
      const names = ICMP_TYPES[fam];
      let type: number | undefined;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) type = v;
      else if (typeof v === 'string' && /^[0-9]+$/.test(v) && Number(v) <= 255) type = Number(v);
      else if (typeof v === 'string' && Object.hasOwn(names, v)) type = names[v];
      else if (typeof v === 'string') ctx.error(tf.value, tf.path, unknownValue(`${fam} ICMP type`, v, Object.keys(names)));
      else ctx.error(tf.value, tf.path, `expected an ICMP type (0 to 255 or a name such as EchoRequest), got ${describe(tf.value)}`);
      if (type === undefined) ok = false;
      else out.push({ family: fam, type });
    }
  }
  return ok ? out : undefined;
}
