// Truth table: policies → compiled DatapathState → the reference evaluator of netpol.h's lookup.
import { describe, expect, it } from 'vitest';
import { compile, StateEvaluator } from '../../network/compile/index.js';
import type { Verdict, Workload } from '../../network/model.js';
import { formatPolicyError, parseNetworkPolicies, type NetPolicy } from '../../network/policy/index.js';

const wl = (cg: number, namespace: string, app: string, ip: string): Workload => ({
  cgroupId: BigInt(cg), cgroupPath: `/kubepods/${namespace}/${app}${cg}`, namespace, labels: { app }, ips: [ip],
});
const WORKLOADS: Record<string, Workload> = {
  web: wl(10, 'prod', 'web', '10.1.0.10'),
  web2: wl(11, 'prod', 'web', '10.1.0.11'),
  db: wl(20, 'prod', 'db', '10.1.0.20'),
  client: wl(30, 'prod', 'client', '10.1.0.30'),
  devclient: wl(40, 'dev', 'client', '10.2.0.30'),
};
const HOST_IP = '192.168.1.1';
const NS_LABELS: Record<string, Record<string, string>> = { prod: { team: 'core' }, dev: { team: 'dev' } };
const CURL_MARK = 8n;
const PROTOS = { TCP: 6, UDP: 17, ICMP: 1 } as const;

function policies(texts: string[]): NetPolicy[] {
  return texts.flatMap((t, i) => {
    const r = parseNetworkPolicies(t, `p${i}.yaml`);
    expect(r.errors.map(formatPolicyError)).toEqual([]);
    return r.policies;
  });
}

function endpoint(name: string): { cgroup?: bigint; ip: string } {
  const w = WORKLOADS[name];
  if (w) return { cgroup: w.cgroupId, ip: w.ips[0]! };
  if (name === 'host') return { ip: HOST_IP };
  return { ip: name };
}

function verdict(texts: string[], from: string, to: string, proto: keyof typeof PROTOS, port: number, marks = 0n): Verdict {
  const { state } = compile(policies(texts), Object.values(WORKLOADS), {
    hostIps: [HOST_IP],
    namespaceLabels: (ns) => NS_LABELS[ns] ?? {},
    markBits: (b) => (b.includes('/usr/bin/curl') ? CURL_MARK : 16n),
  });
  const src = endpoint(from);
  const dst = endpoint(to);
  return new StateEvaluator(state).flow({ srcCgroup: src.cgroup, srcIp: src.ip, dstCgroup: dst.cgroup, dstIp: dst.ip, proto: PROTOS[proto], port, marks }).verdict;
}

const cnp = (name: string, spec: string, ns = 'prod', annotations = ''): string =>
  `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n${annotations}spec:\n${spec}`;
const ccnp = (name: string, spec: string): string => `apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const np = (name: string, spec: string, ns = 'prod'): string =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec}`;
const AUDIT = '  annotations: {palisade.io/mode: audit}\n';

const WEB_FROM_CLIENT_80 = cnp('web-in', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`);
const WEB_FROM_DEV_CLIENT = cnp('web-in-dev', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: dev, app: client}}]
`);
const CLIENT_EGRESS_EMPTY_CILIUM = cnp('client-out', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{}]
`);
const CLIENT_EGRESS_EMPTY_K8S = np('client-out', `  podSelector: {matchLabels: {app: client}}
  egress: [{}]
`);
const CLIENT_EGRESS_NONE_K8S = np('client-out', `  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
`);
const WEB_INGRESS_ALL_K8S = np('web-open', `  podSelector: {matchLabels: {app: web}}
  ingress: [{}]
`);
const PROD_INGRESS_ISOLATED_K8S = np('deny-all', `  podSelector: {}
`);
const WEB_ALL_BUT_CLIENT_80 = cnp('web-deny', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`);
const DENY_CLIENTS_EVERYWHERE = ccnp('no-clients', `  endpointSelector: {matchLabels: {app: web}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]
`);
const WEB_FROM_CLIENT_L3 = cnp('web-l3', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]
`);
const WEB_DENY_22 = cnp('web-no-ssh', `  endpointSelector: {matchLabels: {app: web}}
  ingressDeny: [{toPorts: [{ports: [{port: "22", protocol: TCP}]}]}]
`);
const CLIENT_TO_10_EXCEPT = cnp('client-cidr', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.9.0/24]}]}]
`);
const DB_TO_NESTED = cnp('db-cidr', `  endpointSelector: {matchLabels: {app: db}}
  egress: [{toCIDR: [10.0.9.128/25, 10.3.0.0/16]}]
`);
const CLIENT_IPBLOCK_443 = np('client-ipblock', `  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 172.16.0.0/12, except: [172.16.1.0/24]}}]
    ports: [{port: 443}]
`);
const CLIENT_TO_V6 = cnp('client-v6', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toCIDR: ["fd00::/64"]}]
`);
const CLIENT_TO_ALL_V6 = cnp('client-all-v6', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toCIDR: ["::/0"]}]
`);
const WEB_RANGE = cnp('web-range', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - toPorts: [{ports: [{port: "8000", endPort: 8080, protocol: TCP}, {port: "53"}]}]
`);
const CLIENT_TO_WORLD = cnp('client-world', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [world]}]
`);
const CLIENT_TO_CLUSTER = cnp('client-cluster', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [cluster]}]
`);
const CLIENT_TO_HOST = cnp('client-host', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [host]}]
`);
const WEB_FROM_WORLD = cnp('web-world', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [world]}]
`);
const WEB_FROM_ALL = cnp('web-all', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [all]}]
`);
const WEB_DENY_CLIENT_NO_DEFAULT = cnp('web-deny-only', `  endpointSelector: {matchLabels: {app: web}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]
  enableDefaultDeny: {ingress: false}
`);
const WEB_FROM_CLIENT_NO_DEFAULT = cnp('web-allow-only', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]
  enableDefaultDeny: {ingress: false}
`);
const WEB_FROM_CLIENT_80_AUDIT = cnp('web-in-audit', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`, 'prod', AUDIT);
const WEB_DENY_CLIENT_AUDIT = cnp('web-deny-audit', `  endpointSelector: {matchLabels: {app: web}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]
`, 'prod', AUDIT);
const WEB_DENY_CLIENT = cnp('web-deny-client', `  endpointSelector: {matchLabels: {app: web}}
  ingressDeny: [{fromEndpoints: [{matchLabels: {app: client}}]}]
`);
const WEB_FROM_ALL_AUDIT = cnp('web-all-audit', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [all]}]
`, 'prod', AUDIT);
const CURL_TO_WORLD = cnp('curl-out', `  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toEntities: [world]
    binaries: [/usr/bin/curl]
`);
const NO_CURL_TO_DNS = cnp('no-curl-dns', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [all]}]
  egressDeny:
  - toCIDR: [8.8.8.8/32]
    binaries: [/usr/bin/curl]
`);
const DB_FROM_DEV_NS = np('db-from-dev', `  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: dev}}}]}]
`);
const DB_FROM_ANY_NS_CLIENTS = np('db-from-clients', `  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}]}]
`);
const WEB_NOT_FROM_CLIENT = cnp('web-notin', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchExpressions: [{key: app, operator: NotIn, values: [client]}]}]}]
`);
const WEB_PING = cnp('web-ping', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{icmps: [{fields: [{type: EchoRequest}]}]}]
`);
const WEB_DEFAULT_DENY_ONLY = cnp('web-dd', `  endpointSelector: {matchLabels: {app: web}}
  enableDefaultDeny: {ingress: true}
`);

type Case = [string, string[], string, string, keyof typeof PROTOS, number, Verdict, bigint?];
const CASES: Case[] = [
  ['no policy: everything flows', [], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  // Cilium ingress allow, default deny, namespace scoping
  ['allowed peer and port', [WEB_FROM_CLIENT_80], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  ['allowed peer, same identity on a second pod', [WEB_FROM_CLIENT_80], 'client', 'web2', 'TCP', 80, 'FORWARDED'],
  ['allowed peer, other port: default deny', [WEB_FROM_CLIENT_80], 'client', 'web', 'TCP', 81, 'DROPPED'],
  ['allowed peer, other protocol', [WEB_FROM_CLIENT_80], 'client', 'web', 'UDP', 80, 'DROPPED'],
  ['other peer: default deny', [WEB_FROM_CLIENT_80], 'db', 'web', 'TCP', 80, 'DROPPED'],
  ['same labels in another namespace are not selected', [WEB_FROM_CLIENT_80], 'devclient', 'web', 'TCP', 80, 'DROPPED'],
  ['the unselected direction stays open', [WEB_FROM_CLIENT_80], 'web', 'db', 'TCP', 5432, 'FORWARDED'],
  ['world to a default-deny workload', [WEB_FROM_CLIENT_80], '8.8.8.8', 'web', 'TCP', 80, 'DROPPED'],
  ['selector naming another namespace', [WEB_FROM_DEV_CLIENT], 'devclient', 'web', 'TCP', 80, 'FORWARDED'],
  ['selector naming another namespace excludes its own', [WEB_FROM_DEV_CLIENT], 'client', 'web', 'TCP', 80, 'DROPPED'],
  // The egress: [{}] trap, both ways
  ['Cilium egress: [{}] denies everything (pod)', [CLIENT_EGRESS_EMPTY_CILIUM], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['Cilium egress: [{}] denies everything (world)', [CLIENT_EGRESS_EMPTY_CILIUM], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED'],
  ['NetworkPolicy egress: [{}] allows everything (world)', [CLIENT_EGRESS_EMPTY_K8S], 'client', '8.8.8.8', 'TCP', 443, 'FORWARDED'],
  ['NetworkPolicy egress: [{}] allows everything (pod)', [CLIENT_EGRESS_EMPTY_K8S], 'client', 'web', 'UDP', 53, 'FORWARDED'],
  ['NetworkPolicy policyTypes [Egress] without rules denies egress', [CLIENT_EGRESS_NONE_K8S], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED'],
  ['NetworkPolicy ingress: [{}] allows everything', [WEB_INGRESS_ALL_K8S], 'db', 'web', 'TCP', 1234, 'FORWARDED'],
  ['NetworkPolicy podSelector {} isolates the namespace', [PROD_INGRESS_ISOLATED_K8S], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['NetworkPolicy isolation stays in its namespace', [PROD_INGRESS_ISOLATED_K8S], 'web', 'devclient', 'TCP', 80, 'FORWARDED'],
  // Deny wins
  ['deny L4 beats allow-all in one policy', [WEB_ALL_BUT_CLIENT_80], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['deny L4 leaves other ports', [WEB_ALL_BUT_CLIENT_80], 'client', 'web', 'TCP', 443, 'FORWARDED'],
  ['deny L4 leaves other peers', [WEB_ALL_BUT_CLIENT_80], 'db', 'web', 'TCP', 80, 'FORWARDED'],
  ['clusterwide L3 deny beats a namespaced L4 allow', [WEB_FROM_CLIENT_80, DENY_CLIENTS_EVERYWHERE], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['deny on a port for every peer beats an L3 allow', [WEB_FROM_CLIENT_L3, WEB_DENY_22], 'client', 'web', 'TCP', 22, 'DROPPED'],
  ['L3 allow with a port deny elsewhere', [WEB_FROM_CLIENT_L3, WEB_DENY_22], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  // CIDRs and except
  ['inside the CIDR', [CLIENT_TO_10_EXCEPT], 'client', '10.0.5.5', 'TCP', 443, 'FORWARDED'],
  ['inside the except', [CLIENT_TO_10_EXCEPT], 'client', '10.0.9.9', 'TCP', 443, 'DROPPED'],
  ['outside the CIDR', [CLIENT_TO_10_EXCEPT], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED'],
  ['a workload inside the CIDR is not selected by it', [CLIENT_TO_10_EXCEPT], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['a more specific prefix inside the except stays excepted', [CLIENT_TO_10_EXCEPT, DB_TO_NESTED], 'client', '10.0.9.200', 'TCP', 443, 'DROPPED'],
  ['the other policy reaches its nested prefix', [CLIENT_TO_10_EXCEPT, DB_TO_NESTED], 'db', '10.0.9.200', 'TCP', 443, 'FORWARDED'],
  ['a more specific prefix outside the except stays inside', [CLIENT_TO_10_EXCEPT, DB_TO_NESTED], 'client', '10.3.0.1', 'TCP', 443, 'FORWARDED'],
  ['ipBlock on its port', [CLIENT_IPBLOCK_443], 'client', '172.16.5.5', 'TCP', 443, 'FORWARDED'],
  ['ipBlock except', [CLIENT_IPBLOCK_443], 'client', '172.16.1.5', 'TCP', 443, 'DROPPED'],
  ['ipBlock other port', [CLIENT_IPBLOCK_443], 'client', '172.16.5.5', 'TCP', 80, 'DROPPED'],
  ['IPv6 CIDR', [CLIENT_TO_V6], 'client', 'fd00::5', 'UDP', 53, 'FORWARDED'],
  ['outside the IPv6 CIDR', [CLIENT_TO_V6], 'client', 'fd01::5', 'UDP', 53, 'DROPPED'],
  ['::/0 admits IPv6', [CLIENT_TO_ALL_V6], 'client', '2001:db8::1', 'TCP', 443, 'FORWARDED'],
  ['::/0 does not admit IPv4 (v4-mapped in the same trie)', [CLIENT_TO_ALL_V6], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED'],
  // Port ranges and protocol ANY
  ['range start', [WEB_RANGE], 'client', 'web', 'TCP', 8000, 'FORWARDED'],
  ['range end', [WEB_RANGE], 'client', 'web', 'TCP', 8080, 'FORWARDED'],
  ['range middle', [WEB_RANGE], 'client', 'web', 'TCP', 8043, 'FORWARDED'],
  ['after the range', [WEB_RANGE], 'client', 'web', 'TCP', 8081, 'DROPPED'],
  ['before the range', [WEB_RANGE], 'client', 'web', 'TCP', 7999, 'DROPPED'],
  ['range is TCP only', [WEB_RANGE], 'client', 'web', 'UDP', 8040, 'DROPPED'],
  ['protocol ANY covers UDP', [WEB_RANGE], 'client', 'web', 'UDP', 53, 'FORWARDED'],
  ['protocol ANY covers TCP', [WEB_RANGE], '8.8.8.8', 'web', 'TCP', 53, 'FORWARDED'],
  // Entities
  ['world reaches an outside address', [CLIENT_TO_WORLD], 'client', '8.8.8.8', 'TCP', 443, 'FORWARDED'],
  ['world is not a workload', [CLIENT_TO_WORLD], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['world is not the host', [CLIENT_TO_WORLD], 'client', 'host', 'TCP', 22, 'DROPPED'],
  ['world includes addresses another policy names as CIDR', [CLIENT_TO_WORLD, DB_TO_NESTED], 'client', '10.3.0.1', 'TCP', 443, 'FORWARDED'],
  ['cluster reaches workloads', [CLIENT_TO_CLUSTER], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  ['cluster reaches the host', [CLIENT_TO_CLUSTER], 'client', 'host', 'TCP', 22, 'FORWARDED'],
  ['cluster is not world', [CLIENT_TO_CLUSTER], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED'],
  ['host entity', [CLIENT_TO_HOST], 'client', 'host', 'TCP', 22, 'FORWARDED'],
  ['host entity is only the host', [CLIENT_TO_HOST], 'client', 'web', 'TCP', 22, 'DROPPED'],
  ['from world', [WEB_FROM_WORLD], '8.8.8.8', 'web', 'TCP', 80, 'FORWARDED'],
  ['from world excludes workloads', [WEB_FROM_WORLD], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['from all', [WEB_FROM_ALL], 'host', 'web', 'TCP', 80, 'FORWARDED'],
  // enableDefaultDeny false
  ['deny-only policy without default deny: the denied peer', [WEB_DENY_CLIENT_NO_DEFAULT], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['deny-only policy without default deny: others pass', [WEB_DENY_CLIENT_NO_DEFAULT], 'db', 'web', 'TCP', 80, 'FORWARDED'],
  ['allow policy without default deny lets others through', [WEB_FROM_CLIENT_NO_DEFAULT], 'db', 'web', 'TCP', 80, 'FORWARDED'],
  ['another policy still turns default deny on', [WEB_FROM_CLIENT_NO_DEFAULT, WEB_DEFAULT_DENY_ONLY], 'db', 'web', 'TCP', 80, 'DROPPED'],
  ['with default deny from another policy, the allow holds', [WEB_FROM_CLIENT_NO_DEFAULT, WEB_DEFAULT_DENY_ONLY], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  // Audit mode
  ['audit policy: allowed traffic', [WEB_FROM_CLIENT_80_AUDIT], 'client', 'web', 'TCP', 80, 'FORWARDED'],
  ['audit policy: default deny is only reported', [WEB_FROM_CLIENT_80_AUDIT], 'db', 'web', 'TCP', 80, 'AUDIT'],
  ['audit deny over an enforced allow', [WEB_FROM_ALL, WEB_DENY_CLIENT_AUDIT], 'client', 'web', 'TCP', 80, 'AUDIT'],
  ['enforced deny over an audit allow', [WEB_FROM_ALL_AUDIT, WEB_DENY_CLIENT], 'client', 'web', 'TCP', 80, 'DROPPED'],
  ['audit allow and enforce default deny', [WEB_FROM_CLIENT_80_AUDIT, WEB_DEFAULT_DENY_ONLY], 'client', 'web', 'TCP', 80, 'DROPPED'],
  // Binaries
  ['binaries: the named binary passes', [CURL_TO_WORLD], 'client', '8.8.8.8', 'TCP', 443, 'FORWARDED', CURL_MARK],
  ['binaries: other processes hit default deny', [CURL_TO_WORLD], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED', 0n],
  ['binaries: a process with another mark', [CURL_TO_WORLD], 'client', '8.8.8.8', 'TCP', 443, 'DROPPED', 16n],
  ['binaries on a deny: the named binary is dropped', [NO_CURL_TO_DNS], 'client', '8.8.8.8', 'UDP', 53, 'DROPPED', CURL_MARK],
  ['binaries on a deny: other processes pass', [NO_CURL_TO_DNS], 'client', '8.8.8.8', 'UDP', 53, 'FORWARDED', 0n],
  // NetworkPolicy namespace selectors and matchExpressions
  ['namespaceSelector: a pod of the selected namespace', [DB_FROM_DEV_NS], 'devclient', 'db', 'TCP', 5432, 'FORWARDED'],
  ['namespaceSelector: own namespace not selected', [DB_FROM_DEV_NS], 'client', 'db', 'TCP', 5432, 'DROPPED'],
  ['namespaceSelector {} + podSelector: clients in prod', [DB_FROM_ANY_NS_CLIENTS], 'client', 'db', 'TCP', 5432, 'FORWARDED'],
  ['namespaceSelector {} + podSelector: clients in dev', [DB_FROM_ANY_NS_CLIENTS], 'devclient', 'db', 'TCP', 5432, 'FORWARDED'],
  ['namespaceSelector {} + podSelector: other pods', [DB_FROM_ANY_NS_CLIENTS], 'web', 'db', 'TCP', 5432, 'DROPPED'],
  ['NotIn admits others', [WEB_NOT_FROM_CLIENT], 'db', 'web', 'TCP', 80, 'FORWARDED'],
  ['NotIn excludes the value', [WEB_NOT_FROM_CLIENT], 'client', 'web', 'TCP', 80, 'DROPPED'],
  // ICMP
  ['ICMP echo request allowed', [WEB_PING], 'client', 'web', 'ICMP', 8, 'FORWARDED'],
  ['other ICMP type', [WEB_PING], 'client', 'web', 'ICMP', 13, 'DROPPED'],
  ['ICMP rule does not open TCP', [WEB_PING], 'client', 'web', 'TCP', 8, 'DROPPED'],
];

describe('truth table: compiled state evaluated as netpol.h does', () => {
  for (const [name, texts, from, to, proto, port, expected, marks] of CASES) {
    it(`${name}: ${from} → ${to} ${proto}/${port} = ${expected}`, () => {
      expect(verdict(texts, from, to, proto, port, marks ?? 0n)).toBe(expected);
    });
  }
  it('has at least 40 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(40));
});
