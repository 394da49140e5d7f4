// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy spec (cilium.io/v2) into PolicySubjects.
import type { Node } from 'yaml';
import { readEach, readObj, type Ctx, type Item, type Obj } from '../../tracing/policy/reader.js';
import type { Direction } from '../model.js';
import { parseCidrList, parseCidrSet, parseEntities } from './peers.js';
import { parseCiliumToPorts, parseIcmps } from './ports.js';
import { and, hasKey, inNamespace, parseSelector } from './selectors.js';
import { NAMESPACE_LABEL, type NetRule, type Peer, type PolicySubject, type Selector } from './types.js';

const SPEC_FIELDS = ['endpointSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'enableDefaultDeny', 'labels', 'description'];
const UNSUPPORTED_SPEC = { nodeSelector: 'host (node) policies are not implemented; select workloads with endpointSelector' };
const COMMON_UNSUPPORTED = { authentication: 'mutual authentication is not implemented' };
const INGRESS_UNSUPPORTED = {
  ...COMMON_UNSUPPORTED,
  fromRequires: 'fromRequires is deprecated in Cilium and not implemented',
  fromGroups: 'cloud provider groups are not implemented',
  fromNodes: 'node selectors are not implemented; use fromEntities: [host] for this host',
};
const EGRESS_UNSUPPORTED = {
  ...COMMON_UNSUPPORTED,
  toFQDNs: 'DNS-based rules are not implemented; use toCIDR',
  toServices: 'service selectors are not implemented; use toEndpoints or toCIDR',
  toGroups: 'cloud provider groups are not implemented',
  toRequires: 'toRequires is deprecated in Cilium and not implemented',
  toNodes: 'node selectors are not implemented; use toEntities: [host] for this host',
};

/** The binaries extension: absolute paths of executables, compared exactly. */
function parseBinaries(ctx: Ctx, o: Obj, dir: Direction): string[] | null | undefined {
  const f = o.get('binaries');
  if (!f || f.value === null) return null;
  if (dir === 'ingress') {
    ctx.error(f.key, f.path, 'binaries applies to egress rules only (a Palisade extension): on ingress the receiving process is not known when a connection is judged');
    return undefined;
  }
  const items = o.strList('binaries');
  let ok = items.length > 0;
  if (items.length === 0) ctx.error(f.value, f.path, 'needs at least one binary path, or leave binaries out to match every process');
  for (const b of items) {
    if (!b.value.startsWith('/')) {
      ctx.error(b.node, b.path, `${JSON.stringify(b.value)} is not an absolute path: binaries are matched by their exact path, e.g. "/usr/bin/curl"`);
      ok = false;
    }
  }
  return ok ? [...new Set(items.map((b) => b.value))] : undefined;
}

interface RuleCtx {
  ctx: Ctx;
  /** Namespace that endpoint selectors without a namespace label are limited to; null for clusterwide. */
  namespace: string | null;
}

function endpointSelectors(rc: RuleCtx, items: Item[]): Peer[] | undefined {
  return readEach(items, (it): Peer | undefined => {
    const s = parseSelector(rc.ctx, it.node, it.path, 'cilium');
    if (!s) return undefined;
    // As in Cilium: a namespaced policy's peer selectors stay in its namespace unless they name one.
    const scoped = rc.namespace !== null && !hasKey(s, NAMESPACE_LABEL) ? and(s, inNamespace(NAMESPACE_LABEL, rc.namespace)) : s;
    return { kind: 'selector', selector: scoped };
  });
}

function parseRule(rc: RuleCtx, it: Item, dir: Direction, verdict: 'allow' | 'deny'): NetRule | undefined {
  const { ctx } = rc;
  const p = dir === 'ingress' ? 'from' : 'to';
  const peerFields = [`${p}Endpoints`, `${p}CIDR`, `${p}CIDRSet`, `${p}Entities`];
  const o = readObj(ctx, it.node, it.path, [...peerFields, 'toPorts', 'icmps', 'binaries'], dir === 'ingress' ? INGRESS_UNSUPPORTED : EGRESS_UNSUPPORTED);
  if (!o) return undefined;
  let ok = o.rejectedKeys === 0;
  const peerLists = [
    endpointSelectors(rc, o.seq(`${p}Endpoints`) ?? []),
    parseCidrList(ctx, o.seq(`${p}CIDR`) ?? []),
    parseCidrSet(ctx, o.seq(`${p}CIDRSet`) ?? []),
    parseEntities(ctx, o.seq(`${p}Entities`) ?? []),
  ];
  if (peerLists.some((l) => l === undefined)) ok = false;
  // concat sizes the list exactly (parsed rules are kept, tens of thousands of them)
  const peers = ([] as Peer[]).concat(...peerLists.map((l) => l ?? []));
  const ports = parseCiliumToPorts(ctx, o.seq('toPorts') ?? []);
  const icmps = parseIcmps(ctx, o.seq('icmps') ?? []);
  const binaries = parseBinaries(ctx, o, dir);
  if (!ports || !icmps || binaries === undefined || !ok) return undefined;
  const hasL4 = ports.length > 0 || icmps.length > 0;
  // Cilium: a rule naming no peer selects every peer on its ports; a rule naming nothing ({}) selects nothing.
  const namesPeer = peerFields.some((f) => (o.seq(f) ?? []).length > 0);
  return {
    dir,
    verdict,
    peers: namesPeer ? peers : hasL4 ? null : [],
    l4: hasL4 ? { ports, icmps } : null,
    binaries,
    path: it.path,
    line: it.node ? ctx.line(it.node) : 0,
  };
}

function parseRules(rc: RuleCtx, o: Obj, key: string, dir: Direction, verdict: 'allow' | 'deny'): { rules: NetRule[]; count: number; ok: boolean } {
  const items = o.seq(key) ?? [];
  const rules = readEach(items, (it) => parseRule(rc, it, dir, verdict));
  return { rules: rules ?? [], count: items.length, ok: rules !== undefined };
}

export function parseCiliumSpec(ctx: Ctx, node: Node | null, path: string, namespace: string | null): PolicySubject | undefined {
  const o = readObj(ctx, node, path, SPEC_FIELDS, UNSUPPORTED_SPEC);
  if (!o) return undefined;
  let ok = o.rejectedKeys === 0;
  const rc: RuleCtx = { ctx, namespace };

  let selector: Selector | undefined;
  const sf = o.value('endpointSelector', true);
  if (sf) selector = parseSelector(ctx, sf.value, sf.path, 'cilium');
  if (selector && namespace !== null) selector = and(selector, inNamespace(NAMESPACE_LABEL, namespace));
  if (!selector) ok = false;
  o.str('description');

  const ingress = parseRules(rc, o, 'ingress', 'ingress', 'allow');
  const ingressDeny = parseRules(rc, o, 'ingressDeny', 'ingress', 'deny');
  const egress = parseRules(rc, o, 'egress', 'egress', 'allow');
  const egressDeny = parseRules(rc, o, 'egressDeny', 'egress', 'deny');
  if (!ingress.ok || !ingressDeny.ok || !egress.ok || !egressDeny.ok) ok = false;

  // Cilium: a direction with a non-empty rule list turns default deny on, unless enableDefaultDeny says no.
  const defaultDeny = { ingress: ingress.count + ingressDeny.count > 0, egress: egress.count + egressDeny.count > 0 };
  const df = o.value('enableDefaultDeny');
  if (df) {
    const d = readObj(ctx, df.value, df.path, ['ingress', 'egress']);
    if (!d) ok = false;
    defaultDeny.ingress = d?.bool('ingress') ?? defaultDeny.ingress;
    defaultDeny.egress = d?.bool('egress') ?? defaultDeny.egress;
  }
  if (!ok || !selector) return undefined;
  return { selector, defaultDeny, rules: [...ingress.rules, ...ingressDeny.rules, ...egress.rules, ...egressDeny.rules] };
}

export function parseCiliumSpecs(ctx: Ctx, root: Obj, namespace: string | null): PolicySubject[] | undefined {
  const subjects: PolicySubject[] = [];
  let ok = true;
  const sf = root.value('spec');
  if (sf) {
    const s = parseCiliumSpec(ctx, sf.value, 'spec', namespace);
    if (s) subjects.push(s);
    else ok = false;
  }
  for (const it of root.seq('specs') ?? []) {
    const s = parseCiliumSpec(ctx, it.node, it.path, namespace);
    if (s) subjects.push(s);
    else ok = false;
  }
  if (!sf && (root.seq('specs') ?? []).length === 0 && root.rejectedKeys === 0) {
    ctx.error(root.node, 'spec', 'a Cilium policy needs spec or specs');
    ok = false;
  }
  return ok ? subjects : undefined;
}
