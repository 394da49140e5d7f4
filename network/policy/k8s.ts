// Kubernetes NetworkPolicy spec (networking.k8s.io/v1) into a PolicySubject.
import type { Node } from 'yaml';
import { unknownValue } from '../../tracing/policy/errors.js';
import { readObj, readStr, type Ctx, type Item } from '../../tracing/policy/reader.js';
import type { Direction } from '../model.js';
import { parseIpBlock } from './peers.js';
import { parseK8sPorts } from './ports.js';
import { and, inNamespace, parseSelector } from './selectors.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, type NetRule, type Peer, type PolicySubject } from './types.js';

const POLICY_TYPES = ['Ingress', 'Egress'];

function parsePeer(ctx: Ctx, it: Item, namespace: string): Peer | undefined {
  const o = readObj(ctx, it.node, it.path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  if (!o) return undefined;
  const pod = o.value('podSelector');
  const ns = o.value('namespaceSelector');
  const ip = o.value('ipBlock');
  if (ip) {
    if (pod || ns) {
      ctx.error(ip.key, ip.path, 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer: list them as separate peers');
      return undefined;
    }
    return parseIpBlock(ctx, ip.value, ip.path);
  }
  if (!pod && !ns) {
    ctx.error(it.node, it.path, 'a peer needs podSelector, namespaceSelector or ipBlock (leave out from/to to allow every peer)');
    return undefined;
  }
  const podSel = pod ? parseSelector(ctx, pod.value, pod.path, 'kubernetes') : { requirements: [] };
  // No namespaceSelector: the pods of the policy's own namespace.
  const nsSel = ns ? parseSelector(ctx, ns.value, ns.path, 'kubernetes', NAMESPACE_LABELS_PREFIX) : inNamespace(NAMESPACE_LABEL, namespace);
  if (!podSel || !nsSel) return undefined;
  return { kind: 'selector', selector: and(nsSel, podSel) };
}

function parseRule(ctx: Ctx, it: Item, dir: Direction, namespace: string): NetRule | undefined {
  const peerKey = dir === 'ingress' ? 'from' : 'to';
  const o = readObj(ctx, it.node, it.path, [peerKey, 'ports']);
  if (!o) return undefined;
  const peerItems = o.seq(peerKey) ?? [];
  const peers: Peer[] = [];
  let ok = o.rejectedKeys === 0;
  for (const p of peerItems) {
    const peer = parsePeer(ctx, p, namespace);
    if (peer) peers.push(peer);
    else ok = false;
  }
  const portItems = o.seq('ports') ?? [];
  const ports = parseK8sPorts(ctx, portItems);
  if (!ports || !ok) return undefined;
  return {
    dir,
    verdict: 'allow',
    // Kubernetes: an empty or missing from/to matches every peer, empty or missing ports every port.
    peers: peerItems.length === 0 ? null : peers,
    l4: portItems.length === 0 ? null : { ports, icmps: [] },
    binaries: null,
    path: it.path,
    line: it.node ? ctx.line(it.node) : 0,
  };
}

export function parseK8sSpec(ctx: Ctx, node: Node | null, namespace: string): PolicySubject | undefined {
  const o = readObj(ctx, node, 'spec', ['podSelector', 'policyTypes', 'ingress', 'egress']);
  if (!o) return undefined;
  let ok = o.rejectedKeys === 0;
  const sf = o.get('podSelector');
  if (!sf) o.missing('podSelector');
  // podSelector: {} (or null) selects every pod of the namespace.
  const pods = !sf ? undefined : o.has('podSelector') ? parseSelector(ctx, sf.value, sf.path, 'kubernetes') : { requirements: [] };
  if (!pods) ok = false;

  const ingressItems = o.seq('ingress') ?? [];
  const egressItems = o.seq('egress') ?? [];
  // policyTypes defaults: Ingress always, Egress when there are egress rules.
  const types = new Set<string>(['Ingress', ...(egressItems.length > 0 ? ['Egress'] : [])]);
  const tf = o.value('policyTypes');
  if (tf) {
    types.clear();
    for (const t of o.seq('policyTypes') ?? []) {
      const s = readStr(ctx, t.node, t.path, true);
      if (s !== undefined && POLICY_TYPES.includes(s)) types.add(s);
      else if (s !== undefined) {
        ctx.error(t.node, t.path, unknownValue('policy type', s, POLICY_TYPES));
        ok = false;
      }
    }
  }
  const rules: NetRule[] = [];
  const read = (items: Item[], dir: Direction): void => {
    for (const it of items) {
      const r = parseRule(ctx, it, dir, namespace);
      if (r) rules.push(r);
      else ok = false;
    }
  };
  read(ingressItems, 'ingress');
  read(egressItems, 'egress');
  if (!ok || !pods) return undefined;
  const ingress = types.has('Ingress');
  const egress = types.has('Egress');
  return {
    selector: and(pods, inNamespace(NAMESPACE_LABEL, namespace)),
    defaultDeny: { ingress, egress },
    // As in Kubernetes: rules of a direction policyTypes leaves out have no effect.
    rules: rules.filter((r) => (r.dir === 'ingress' ? ingress : egress)),
  };
}

