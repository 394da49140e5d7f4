// The normalized network-policy model: Kubernetes NetworkPolicy and Cilium(Clusterwide)NetworkPolicy
// both parse into NetPolicy, so the compiler knows one language.
import type { Direction, PolicyMode } from '../model.js';

export type NetPolicyKind = 'NetworkPolicy' | 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';

/**
 * Label keys as the selectors see a workload (Cilium's view of an endpoint's labels, without the
 * "k8s:" source prefix): the pod's labels, plus NAMESPACE_LABEL = its namespace, plus each label of
 * its namespace under NAMESPACE_LABELS_PREFIX (kubernetes.io/metadata.name = the namespace's name
 * is always there).
 */
export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: readonly string[];
}

/** A conjunction of requirements over a workload's selector labels; no requirement = every workload. */
export interface Selector {
  requirements: readonly LabelRequirement[];
}

export type Entity = 'world' | 'host' | 'cluster' | 'all';

/** A CIDR with the prefixes carved out of it; canonical text ("10.0.0.0/8"). */
export interface CidrPeer {
  cidr: string;
  except: readonly string[];
}

/** Who a rule's traffic comes from (ingress) or goes to (egress). */
export type Peer =
  | { kind: 'selector'; selector: Selector }
  | { kind: 'cidr'; cidr: CidrPeer }
  | { kind: 'entity'; entity: Entity };

export type L4Protocol = 'TCP' | 'UDP' | 'ANY';

/** A port range [port, endPort]; port 0 = every port of the protocol. */
export interface PortMatch {
  protocol: L4Protocol;
  port: number;
  endPort: number;
}

export interface IcmpMatch {
  family: 'IPv4' | 'IPv6';
  type: number;
}

export interface NetRule {
  dir: Direction;
  verdict: 'allow' | 'deny';
  /** null: every peer (a rule with no peer field, e.g. ports only). [] selects nothing. */
  peers: readonly Peer[] | null;
  /** null: every protocol and port. Otherwise the union of ports and icmps. */
  l4: { ports: readonly PortMatch[]; icmps: readonly IcmpMatch[] } | null;
  /** Palisade extension, egress only: the rule applies to processes running one of these binaries. */
  binaries: readonly string[] | null;
  /** Field path in the document, e.g. "spec.egress[0]" or "specs[1].ingressDeny[0]". */
  path: string;
  line: number;
}

/** One selection of workloads with its rules: a Cilium spec (or one of specs), or a NetworkPolicy. */
export interface PolicySubject {
  selector: Selector;
  /** Whether selecting a workload makes the direction default-deny. */
  defaultDeny: { ingress: boolean; egress: boolean };
  rules: readonly NetRule[];
}

export interface NetPolicy {
  kind: NetPolicyKind;
  name: string;
  /** null for CiliumClusterwideNetworkPolicy. */
  namespace: string | null;
  mode: PolicyMode;
  subjects: readonly PolicySubject[];
  source: { file: string; line: number };
}

/** "CiliumNetworkPolicy/default/web": kind, namespace, name identify a policy. */
export const policyKey = (p: Pick<NetPolicy, 'kind' | 'namespace' | 'name'>): string => `${p.kind}/${p.namespace ?? ''}/${p.name}`;
