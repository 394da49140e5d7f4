import { describe, expect, it } from 'vitest';
import { formatPolicyError, parseNetworkPolicies, type NetPolicy } from '../../network/policy/index.js';

const messages = (text: string, file = 'np.yaml'): string[] => parseNetworkPolicies(text, file).errors.map(formatPolicyError);
const one = (text: string): NetPolicy => {
  const r = parseNetworkPolicies(text, 'np.yaml');
  expect(r.errors.map(formatPolicyError)).toEqual([]);
  expect(r.policies).toHaveLength(1);
  return r.policies[0]!;
};

/** Lines 1-6; the spec body starts at line 7. */
const CNP = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  namespace: prod
spec:
  endpointSelector: {matchLabels: {app: web}}
`;
const NP = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: prod
spec:
`;

describe('Cilium policies', () => {
  it('normalizes selectors: k8s: prefixes dropped, namespace added to namespaced selectors', () => {
    const p = one(`${CNP}  ingress:
  - fromEndpoints:
    - matchLabels: {k8s:app: client}
    - matchLabels: {k8s:io.kubernetes.pod.namespace: dev, any:role: tester}
`);
    expect(p.subjects[0]!.selector.requirements).toEqual([
      { key: 'app', operator: 'In', values: ['web'] },
      { key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] },
    ]);
    const peers = p.subjects[0]!.rules[0]!.peers!;
    expect(peers[0]).toEqual({ kind: 'selector', selector: { requirements: [
      { key: 'app', operator: 'In', values: ['client'] },
      { key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] },
    ] } });
    // A selector that names a namespace keeps it.
    expect(peers[1]).toEqual({ kind: 'selector', selector: { requirements: [
      { key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['dev'] },
      { key: 'role', operator: 'In', values: ['tester'] },
    ] } });
  });

  it('clusterwide selectors are not limited to a namespace', () => {
    const p = one(`apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: all-dns}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{matchExpressions: [{key: k8s-app, operator: In, values: [kube-dns]}]}]
`);
    expect(p.namespace).toBeNull();
    expect(p.subjects[0]!.selector.requirements).toEqual([]);
    expect(p.subjects[0]!.rules[0]!.peers).toEqual([{ kind: 'selector', selector: { requirements: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] } }]);
  });

  it('default deny: a non-empty section turns it on, egress: [{}] selects nothing, enableDefaultDeny turns it off', () => {
    const p = one(`${CNP}  egress: [{}]
`);
    expect(p.subjects[0]!.defaultDeny).toEqual({ ingress: false, egress: true });
    expect(p.subjects[0]!.rules[0]!.peers).toEqual([]);
    const q = one(`${CNP}  ingressDeny: [{fromEntities: [world]}]
  enableDefaultDeny: {ingress: false}
`);
    expect(q.subjects[0]!.defaultDeny).toEqual({ ingress: false, egress: false });
    const r = one(`${CNP}  egress: []
`);
    expect(r.subjects[0]!.defaultDeny).toEqual({ ingress: false, egress: false });
  });

  it('a rule with ports but no peer applies to every peer; ports and ranges and icmps are read', () => {
    const p = one(`${CNP}  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}, {port: 8000, endPort: 8080}]
    - ports: [{port: "53", protocol: UDP}]
    icmps: [{fields: [{type: 8}, {type: EchoRequest, family: IPv6}]}]
`);
    const r = p.subjects[0]!.rules[0]!;
    expect(r.peers).toBeNull();
    expect(r.l4).toEqual({
      ports: [
        { protocol: 'TCP', port: 80, endPort: 80 },
        { protocol: 'ANY', port: 8000, endPort: 8080 },
        { protocol: 'UDP', port: 53, endPort: 53 },
      ],
      icmps: [{ family: 'IPv4', type: 8 }, { family: 'IPv6', type: 128 }],
    });
  });

  it('CIDRs, CIDR sets with except, entities and binaries; specs lists', () => {
    const p = one(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: prod}
specs:
- endpointSelector: {matchLabels: {app: a}}
  egress:
  - toCIDR: [192.168.0.0/16, "fd00::/64"]
    toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]
    toEntities: [host]
    binaries: [/usr/bin/curl]
- endpointSelector: {matchLabels: {app: b}}
  egressDeny:
  - toEntities: [world]
`);
    expect(p.subjects).toHaveLength(2);
    const r = p.subjects[0]!.rules[0]!;
    expect(r.peers).toEqual([
      { kind: 'cidr', cidr: { cidr: '192.168.0.0/16', except: [] } },
      { kind: 'cidr', cidr: { cidr: 'fd00::/64', except: [] } },
      { kind: 'cidr', cidr: { cidr: '10.0.0.0/8', except: ['10.96.0.0/12'] } },
      { kind: 'entity', entity: 'host' },
    ]);
    expect(r.binaries).toEqual(['/usr/bin/curl']);
    expect(r.path).toBe('specs[0].egress[0]');
    expect(p.subjects[1]!.rules[0]).toMatchObject({ verdict: 'deny', dir: 'egress', path: 'specs[1].egressDeny[0]' });
  });

  it('mode: annotation, and the add command overrides it', () => {
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  annotations: {palisade.io/mode: audit}
spec:
  endpointSelector: {}
`;
    expect(one(text).mode).toBe('audit');
    expect(one(text).namespace).toBe('default');
    expect(parseNetworkPolicies(text, 'np.yaml', 'enforce').policies[0]!.mode).toBe('enforce');
  });
});

describe('Kubernetes NetworkPolicy', () => {
  it('policyTypes default to Ingress, plus Egress when there are egress rules', () => {
    const p = one(`${NP}  podSelector: {}
`);
    expect(p.subjects[0]!.defaultDeny).toEqual({ ingress: true, egress: false });
    expect(p.subjects[0]!.selector.requirements).toEqual([{ key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] }]);
    const q = one(`${NP}  podSelector: {}
  egress: [{}]
`);
    expect(q.subjects[0]!.defaultDeny).toEqual({ ingress: true, egress: true });
    // egress: [{}] allows everything: every peer, every port.
    expect(q.subjects[0]!.rules[0]).toMatchObject({ dir: 'egress', peers: null, l4: null });
  });

  it('rules of a direction not in policyTypes have no effect', () => {
    const p = one(`${NP}  podSelector: {}
  policyTypes: [Egress]
  ingress: [{}]
`);
    expect(p.subjects[0]!.defaultDeny).toEqual({ ingress: false, egress: true });
    expect(p.subjects[0]!.rules).toEqual([]);
  });

  it('peers: podSelector alone stays in the namespace, namespaceSelector selects namespace labels, ipBlock with except', () => {
    const p = one(`${NP}  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {matchLabels: {app: web}}
    - ipBlock: {cidr: 172.16.0.0/12, except: [172.16.1.0/24]}
    ports:
    - port: 5432
    - protocol: UDP
      port: 9000
      endPort: 9100
`);
    const r = p.subjects[0]!.rules[0]!;
    expect(r.peers).toEqual([
      { kind: 'selector', selector: { requirements: [
        { key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] },
        { key: 'app', operator: 'In', values: ['web'] },
      ] } },
      { kind: 'selector', selector: { requirements: [
        { key: 'io.cilium.k8s.namespace.labels.team', operator: 'In', values: ['a'] },
        { key: 'app', operator: 'In', values: ['web'] },
      ] } },
      { kind: 'cidr', cidr: { cidr: '172.16.0.0/12', except: ['172.16.1.0/24'] } },
    ]);
    expect(r.l4).toEqual({ ports: [{ protocol: 'TCP', port: 5432, endPort: 5432 }, { protocol: 'UDP', port: 9000, endPort: 9100 }], icmps: [] });
  });
});

describe('validation errors name file, line, column and field', () => {
  const cases: Array<[string, string, string[]]> = [
    ['misspelt protocol', `${CNP}  egress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: TPC
`, ['np.yaml:12:19 spec.egress[0].toPorts[0].ports[0].protocol: unknown protocol "TPC" (did you mean "TCP"?)']],
    ['SCTP', `${CNP}  egress:
  - toPorts: [{ports: [{port: "80", protocol: SCTP}]}]
`, ['np.yaml:9:47 spec.egress[0].toPorts[0].ports[0].protocol: protocol SCTP is not supported by Palisade: the datapath reads TCP and UDP ports only']],
    ['port out of range', `${CNP}  egress:
  - toPorts: [{ports: [{port: "70000"}]}]
`, ['np.yaml:9:31 spec.egress[0].toPorts[0].ports[0].port: expected a port number from 0 to 65535, got "70000"']],
    ['named port', `${NP}  podSelector: {}
  ingress:
  - ports: [{port: http}]
`, ['np.yaml:9:20 spec.ingress[0].ports[0].port: named port "http" is not supported: Palisade does not know container port names; use the port number']],
    ['endPort below port', `${CNP}  egress:
  - toPorts: [{ports: [{port: "90", endPort: 80}]}]
`, ['np.yaml:9:46 spec.egress[0].toPorts[0].ports[0].endPort: endPort 80 is below port 90']],
    ['endPort without port', `${NP}  podSelector: {}
  ingress:
  - ports: [{endPort: 80}]
`, ['np.yaml:9:14 spec.ingress[0].ports[0].endPort: endPort needs a port to start the range']],
    ['unknown entity', `${CNP}  egress:
  - toEntities: [wrold]
`, ['np.yaml:9:18 spec.egress[0].toEntities[0]: unknown entity "wrold" (did you mean "world"?)']],
    ['entity Palisade lacks', `${CNP}  egress:
  - toEntities: [kube-apiserver]
`, ['np.yaml:9:18 spec.egress[0].toEntities[0]: entity "kube-apiserver" is not supported by Palisade: expected one of world, host, cluster, all']],
    ['bad CIDR', `${CNP}  egress:
  - toCIDR: [10.0.0.1/8]
`, ['np.yaml:9:14 spec.egress[0].toCIDR[0]: "10.0.0.1/8": host bits are set: did you mean "10.0.0.0/8"?']],
    ['not an address', `${CNP}  egress:
  - toCIDR: [10.0.0/8]
`, ['np.yaml:9:14 spec.egress[0].toCIDR[0]: "10.0.0/8": "10.0.0" is not an IPv4 or IPv6 address']],
    ['except outside the CIDR', `${CNP}  egress:
  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/8]}]
`, ['np.yaml:9:45 spec.egress[0].toCIDRSet[0].except[0]: 11.0.0.0/8 is not inside 10.0.0.0/8: an except prefix must be part of the cidr']],
    ['binaries on ingress', `${CNP}  ingress:
  - fromEntities: [world]
    binaries: [/usr/bin/curl]
`, ['np.yaml:10:5 spec.ingress[0].binaries: binaries applies to egress rules only (a Palisade extension): on ingress the receiving process is not known when a connection is judged']],
    ['relative binary', `${CNP}  egress:
  - toEntities: [world]
    binaries: [curl]
`, ['np.yaml:10:16 spec.egress[0].binaries[0]: "curl" is not an absolute path: binaries are matched by their exact path, e.g. "/usr/bin/curl"']],
    ['unknown rule field', `${CNP}  ingress:
  - fromEndpoint: [{}]
`, ['np.yaml:9:5 spec.ingress[0].fromEndpoint: unknown field (did you mean "fromEndpoints"?)']],
    ['from field in an egress rule', `${CNP}  egress:
  - fromEndpoints: [{}]
`, ['np.yaml:9:5 spec.egress[0].fromEndpoints: unknown field (did you mean "toEndpoints"?)']],
    ['L7 rules', `${CNP}  egress:
  - toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]
`, ['np.yaml:9:39 spec.egress[0].toPorts[0].rules: not supported by Palisade: L7 rules (HTTP, DNS, Kafka) are not implemented; Palisade enforces L3/L4']],
    ['toFQDNs', `${CNP}  egress:
  - toFQDNs: [{matchName: example.com}]
`, ['np.yaml:9:5 spec.egress[0].toFQDNs: not supported by Palisade: DNS-based rules are not implemented; use toCIDR']],
    ['bad operator', `${CNP}  ingress:
  - fromEndpoints: [{matchExpressions: [{key: app, operator: Exist}]}]
`, ['np.yaml:9:62 spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator: unknown operator "Exist" (did you mean "Exists"?)']],
    ['In without values', `${CNP}  ingress:
  - fromEndpoints: [{matchExpressions: [{key: app, operator: In}]}]
`, ['np.yaml:9:41 spec.ingress[0].fromEndpoints[0].matchExpressions[0].values: In needs at least one value']],
    ['reserved label source', `${CNP}  ingress:
  - fromEndpoints: [{matchLabels: {reserved:host: ""}}]
`, ['np.yaml:9:36 spec.ingress[0].fromEndpoints[0].matchLabels.reserved:host: label source "reserved" is not supported (only k8s: and any: labels select workloads): select reserved identities with fromEntities/toEntities']],
    ['kind and apiVersion mismatch', `apiVersion: cilium.io/v2
kind: NetworkPolicy
metadata: {name: x}
spec: {podSelector: {}}
`, ['np.yaml:1:13 apiVersion: kind NetworkPolicy needs apiVersion networking.k8s.io/v1, got "cilium.io/v2"']],
    ['unknown kind', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolcy
metadata: {name: x}
spec: {endpointSelector: {}}
`, ['np.yaml:2:7 kind: unknown kind "CiliumNetworkPolcy" (did you mean "CiliumNetworkPolicy"?)']],
    ['namespace on a clusterwide policy', `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: x, namespace: prod}
spec: {endpointSelector: {}}
`, ['np.yaml:3:21 metadata.namespace: a CiliumClusterwideNetworkPolicy applies to the whole cluster and has no namespace; use kind CiliumNetworkPolicy to limit it to one']],
    ['bad mode annotation', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: x
  annotations: {palisade.io/mode: audti}
spec: {endpointSelector: {}}
`, ['np.yaml:5:35 metadata.annotations.palisade.io/mode: unknown mode "audti" (did you mean "audit"?)']],
    ['missing endpointSelector', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: x}
spec:
  ingress: [{fromEntities: [world]}]
`, ['np.yaml:5:3 spec.endpointSelector: required field is missing']],
    ['ipBlock with a selector', `${NP}  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/8}
      podSelector: {}
`, ['np.yaml:10:7 spec.ingress[0].from[0].ipBlock: ipBlock cannot be combined with podSelector or namespaceSelector in one peer: list them as separate peers']],
    ['empty peer', `${NP}  podSelector: {}
  ingress:
  - from: [{}]
`, ['np.yaml:9:12 spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock (leave out from/to to allow every peer)']],
    ['unknown policyType', `${NP}  podSelector: {}
  policyTypes: [Ingres]
`, ['np.yaml:8:17 spec.policyTypes[0]: unknown policy type "Ingres" (did you mean "Ingress"?)']],
    ['ICMP type name', `${CNP}  egress:
  - icmps: [{fields: [{type: EchoReqest}]}]
`, ['np.yaml:9:30 spec.egress[0].icmps[0].fields[0].type: unknown IPv4 ICMP type "EchoReqest" (did you mean "EchoRequest"?)']],
    ['duplicate policy in one file', `${CNP}---
${CNP}`, ['np.yaml:9:1 metadata.name: CiliumNetworkPolicy "web" is already defined in this file at line 1']],
    ['invalid YAML', `${CNP}  egress: [
`, ['np.yaml:9:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => expect(messages(text)).toEqual(expected));
  }

  it('reports every problem of a file, and keeps no policy from a document with errors', () => {
    const r = parseNetworkPolicies(`${CNP}  egress:
  - toEntities: [wrold]
    toPorts: [{ports: [{port: "80", protocol: TPC}]}]
`, 'np.yaml');
    expect(r.errors).toHaveLength(2);
    expect(r.policies).toEqual([]);
  });
});

describe('shipped examples', () => {
  it('every policy under policies/network parses without errors', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const files = readdirSync('policies/network').filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const r = parseNetworkPolicies(readFileSync(`policies/network/${f}`, 'utf8'), f);
      expect(r.errors.map(formatPolicyError), f).toEqual([]);
      expect(r.policies.length, f).toBeGreaterThan(0);
    }
  });
});
