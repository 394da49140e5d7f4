// Network policy end to end, through the real agent: workloads are real processes (netpeer.mjs) in
// their own cgroups and network namespaces, joined by veth pairs on a bridge in a hub namespace;
// policies are added with `palisade netpol add`, workloads labelled with `palisade endpoint label`
// and the workloads file. Addresses: 10.215.S.0/24 and fd00:215::S:0/112 (S from the pid), inside
// namespaces this file creates and removes. The only traffic in the host's namespace is a connect
// from a host workload to the host's own address (delivered locally; no listener, so "allowed" is a
// refused connection and "denied" is EPERM from the connect hook).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { probeFeatures } from '../../native/index.js';
import { cleanup, readRotated, ROOT, runCli, startAgent, type Ev, type RunningAgent } from '../helpers/agent.js';
import { Peer, type PeerReply } from '../helpers/netns.js';

const PEER_SCRIPT = join(ROOT, 'test', 'helpers', 'netpeer.mjs');
const PYTHON = '/usr/bin/python3.11';

const features = probeFeatures();
const cg2 = features.cgroup2Path;
const skip = cg2 === null || !features.programTypes['cgroup_sock_addr'] || !features.programTypes['cgroup_skb'];
if (skip) console.warn('netpol e2e: skipped: no cgroup v2 or cgroup_sock_addr/cgroup_skb programs');

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PID = process.pid;
const S = (PID % 200) + 20;
const v4 = (h: number) => `10.215.${S}.${h}`;
const v6 = (h: number) => `fd00:215::${S.toString(16)}:${h.toString(16)}`;
const TAG = `npe${PID}`;
const CG_REL = `/palisade-npe2e-${PID}`;

// ---------------------------------------------------------------------------------------------------
// Topology

type WName = 'frontend' | 'other' | 'web' | 'db' | 'evilfront' | 'outsider' | 'hostw';

interface WSpec {
  /** host byte of the primary address; extra v4 addresses after it */
  host: number;
  extra?: number[];
  /** null: the host's network namespace (no veth) */
  netns: boolean;
  namespace?: string;
  labels?: Record<string, string>;
  /** labelled by the workloads file instead of the CLI */
  byFile?: boolean;
}

const SPECS: Record<WName, WSpec> = {
  frontend: { host: 10, netns: true, namespace: 'shop', labels: { app: 'frontend' } },
  other: { host: 11, netns: true, namespace: 'shop', labels: { app: 'other' } },
  web: { host: 20, netns: true, namespace: 'shop', labels: { app: 'web' }, byFile: true },
  db: { host: 21, netns: true, namespace: 'shop', labels: { app: 'db' }, byFile: true },
  // the same labels as frontend, in another namespace
  evilfront: { host: 30, netns: true, namespace: 'evil', labels: { app: 'frontend' } },
  // not a workload: world. .100 .101 .102 are CIDR targets
  outsider: { host: 100, extra: [101, 102], netns: true },
  // a workload in the host's namespace: its peers see the host
  hostw: { host: 0, netns: false, namespace: 'shop', labels: { app: 'hostclient' } },
};

const TCP_PORTS = [80, 443, 5432, 7999, 8000, 8005, 8010, 8011];
const UDP_PORTS = [53, 5353];

class Topology {
  readonly hub = `${TAG}h`;
  readonly cgRoot: string;
  readonly peers = new Map<WName, Peer>();
  readonly cgroups = new Map<WName, string>();
  readonly namespaces: string[] = [];
  readonly extraPeers: Peer[] = [];

  constructor(readonly cgroup2: string) {
    this.cgRoot = join(cgroup2, CG_REL);
  }

  nsOf(w: WName): string {
    return `${TAG}${w.slice(0, 4)}`;
  }

  setup(): void {
    sh('ip', ['netns', 'add', this.hub]);
    this.namespaces.push(this.hub);
    sh('ip', ['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', this.hub, 'link', 'set', 'br0', 'up']);
    mkdirSync(this.cgRoot, { recursive: true });
    let i = 0;
    for (const [name, spec] of Object.entries(SPECS) as [WName, WSpec][]) {
      const cg = join(this.cgRoot, name);
      mkdirSync(cg, { recursive: true });
      this.cgroups.set(name, cg);
      if (!spec.netns) continue;
      const ns = this.nsOf(name);
      sh('ip', ['netns', 'add', ns]);
      this.namespaces.push(ns);
      const hv = `v${i++}`;
      sh('ip', ['-n', this.hub, 'link', 'add', hv, 'type', 'veth', 'peer', 'name', 'e0', 'netns', ns]);
      sh('ip', ['-n', this.hub, 'link', 'set', hv, 'master', 'br0']);
      sh('ip', ['-n', this.hub, 'link', 'set', hv, 'up']);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      for (const h of [spec.host, ...(spec.extra ?? [])]) sh('ip', ['-n', ns, 'addr', 'add', `${v4(h)}/24`, 'dev', 'e0']);
      sh('ip', ['-n', ns, 'addr', 'add', `${v6(spec.host)}/64`, 'dev', 'e0', 'nodad']);
      sh('ip', ['-n', ns, 'link', 'set', 'e0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** A command run in a workload's cgroup (it joins before exec) and namespace. */
  spawnIn(w: WName, argv: string[]) {
    const cg = this.cgroups.get(w)!;
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const inNs = SPECS[w].netns ? `ip netns exec ${q(this.nsOf(w))} ` : '';
    const script = `echo $$ > ${q(join(cg, 'cgroup.procs'))} && exec ${inNs}${argv.map(q).join(' ')}`;
    return spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  async startPeer(w: WName, execPath = process.execPath): Promise<Peer> {
    const p = new Peer(this.spawnIn(w, [execPath, PEER_SCRIPT]), this.nsOf(w), this.cgroups.get(w)!);
    await p.ready();
    return p;
  }

  /** Kills the processes, removes cgroups and namespaces. Async: killed children are reaped by the event loop. */
  async destroy(): Promise<void> {
    for (const p of [...this.peers.values(), ...this.extraPeers]) p.kill();
    const deadline = Date.now() + 5000;
    for (const path of [...this.cgroups.values(), this.cgRoot]) {
      // a cgroup with a task that is dead but not yet reaped is still busy
      while (existsSync(path)) {
        try {
          for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // gone
            }
          }
          rmdirSync(path);
        } catch {
          if (Date.now() > deadline) break;
          await sleep(50);
        }
      }
    }
    for (const ns of this.namespaces) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // not created
      }
    }
  }
}

/** A non-loopback IPv4 address of the host's own namespace (connects to it stay on this machine). */
function hostAddress(): string | null {
  const out = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show'])) as { addr_info?: { local: string; scope: string }[] }[];
  for (const l of out) for (const a of l.addr_info ?? []) if (a.scope === 'global' && !a.local.startsWith('127.')) return a.local;
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Policies: YAML text per name, `@S` is the subnet byte

const POL: Record<string, string> = {
  // K8s NP, no policyTypes: Ingress only
  'np-web-from-frontend': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-web-from-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 80}]
`,
  // K8s NP: Egress only, port range and UDP
  'np-frontend-egress': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-frontend-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports:
    - {port: 8000, endPort: 8010, protocol: TCP}
    - {port: 53, protocol: UDP}
`,
  // K8s NP: namespaceSelector
  'np-db-from-evil': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-db-from-evil, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: evil}}}]
`,
  // K8s NP empty rules: allow everything in that direction
  'np-empty-rules': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-frontend-egress-all, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-web-ingress-all, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-db-isolated, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
`,
  // Cilium: egress: [{}] denies all egress
  'cnp-frontend-empty-egress': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-frontend-empty-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress: [{}]
`,
  'cnp-entities': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-web-from-world, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [world]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-db-from-cluster, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{fromEntities: [cluster]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-other-to-all, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: other}}
  egress: [{toEntities: [all]}]
`,
  'cnp-host-to-host': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-host-to-host, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: hostclient}}
  egress: [{toEntities: [host]}]
`,
  'cnp-host-to-world': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-host-to-world, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: hostclient}}
  egress: [{toEntities: [world]}]
`,
  'cnp-host-to-cluster': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-host-to-cluster, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: hostclient}}
  egress: [{toEntities: [cluster]}]
`,
  'cnp-cidr': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-cidr, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress:
  - toCIDRSet: [{cidr: 10.215.@S.96/27, except: [10.215.@S.101/32]}]
    toPorts: [{ports: [{port: "80", protocol: TCP}, {port: "53", protocol: UDP}]}]
  - toEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8000", endPort: 8010}]}]
  - toCIDR: [10.215.@S.0/24]
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
`,
  'deny-precedence': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-web-from-all, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [all]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-web-deny-other-80, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: other}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np-web-from-other, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: other}}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-frontend-to-all, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress: [{toEntities: [all]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ccnp-deny-100}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egressDeny: [{toCIDR: [10.215.@S.100/32]}]
`,
  'ns-scoping': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-shop-frontend-egress, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress: [{toEndpoints: [{matchLabels: {app: web}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-web-from-frontend, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: frontend}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ccnp-db-from-frontend}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{fromEndpoints: [{matchLabels: {app: frontend}}]}]
`,
  'cnp-web-from-frontend-audit': `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp-web-audit, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: frontend}}]}]
`,
  'np-other-egress-audit-annotation': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np-other-egress-audit
  namespace: shop
  annotations: {palisade.io/mode: audit}
spec:
  podSelector: {matchLabels: {app: other}}
  policyTypes: [Egress]
`,
};

// ---------------------------------------------------------------------------------------------------
// The truth table

/** allow: the exchange works; EPERM: the connect/send hook refused it; drop: dropped at ingress (timeout). */
type Outcome = 'allow' | 'EPERM' | 'drop';

interface Row {
  from: WName;
  /** a workload (its primary address), a host byte of 10.215.S.0/24, or the host's own address */
  to: WName | number | 'hostip';
  port: number;
  proto: 'tcp' | 'udp';
  v6?: boolean;
  expect: Outcome;
  /** the verdict event this exchange must produce */
  verdict?: 'AUDIT' | 'FORWARDED' | 'DROPPED';
  why: string;
}

interface Group {
  name: string;
  /** POL keys, each added with `netpol add` ("key@audit": with --mode audit) */
  policies: string[];
  rows: Row[];
}

const GROUPS: Group[] = [
  {
    name: 'K8s NP ingress, no policyTypes',
    policies: ['np-web-from-frontend'],
    rows: [
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'podSelector app=frontend, port 80' },
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', v6: true, expect: 'allow', why: 'the same over IPv6' },
      { from: 'other', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'ingress default deny: other is not selected by from' },
      { from: 'other', to: 'web', port: 80, proto: 'tcp', v6: true, expect: 'drop', why: 'ingress default deny over IPv6' },
      { from: 'frontend', to: 'web', port: 443, proto: 'tcp', expect: 'drop', why: 'port not in the rule' },
      { from: 'frontend', to: 'web', port: 53, proto: 'udp', expect: 'drop', why: 'NetworkPolicy ports default to TCP' },
      { from: 'evilfront', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'same labels in namespace evil: podSelector stays in shop' },
      { from: 'outsider', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'world is not a pod' },
      { from: 'frontend', to: 'db', port: 5432, proto: 'tcp', expect: 'allow', why: 'db is selected by no policy' },
      { from: 'web', to: 'outsider', port: 80, proto: 'tcp', expect: 'allow', why: 'no policyTypes and no egress rules: egress stays open' },
    ],
  },
  {
    name: 'K8s NP egress with policyTypes, endPort, UDP, namespaceSelector',
    policies: ['np-frontend-egress', 'np-db-from-evil'],
    rows: [
      { from: 'frontend', to: 'web', port: 8000, proto: 'tcp', expect: 'allow', why: 'first port of 8000-8010' },
      { from: 'frontend', to: 'web', port: 8005, proto: 'tcp', expect: 'allow', why: 'inside 8000-8010' },
      { from: 'frontend', to: 'web', port: 8010, proto: 'tcp', expect: 'allow', why: 'endPort is inclusive' },
      { from: 'frontend', to: 'web', port: 8011, proto: 'tcp', expect: 'EPERM', why: 'past endPort' },
      { from: 'frontend', to: 'web', port: 7999, proto: 'tcp', expect: 'EPERM', why: 'before port' },
      { from: 'frontend', to: 'web', port: 53, proto: 'udp', expect: 'allow', why: 'UDP 53 allowed' },
      { from: 'frontend', to: 'web', port: 5353, proto: 'udp', expect: 'EPERM', why: 'UDP 5353 not allowed: sendmsg refused' },
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'EPERM', why: 'egress default deny (policyTypes Egress)' },
      { from: 'frontend', to: 'outsider', port: 80, proto: 'tcp', expect: 'EPERM', why: 'egress default deny to world' },
      { from: 'other', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'other is not selected; web has no policy' },
      { from: 'evilfront', to: 'db', port: 5432, proto: 'tcp', expect: 'allow', why: 'namespaceSelector kubernetes.io/metadata.name=evil' },
      { from: 'other', to: 'db', port: 5432, proto: 'tcp', expect: 'drop', why: 'shop is not evil' },
      { from: 'outsider', to: 'db', port: 5432, proto: 'tcp', expect: 'drop', why: 'namespaceSelector never selects world' },
    ],
  },
  {
    name: 'K8s NP empty rules allow, policyTypes without rules deny',
    policies: ['np-empty-rules'],
    rows: [
      { from: 'frontend', to: 'outsider', port: 80, proto: 'tcp', expect: 'allow', why: 'NP egress: [{}] allows all egress' },
      { from: 'frontend', to: 'web', port: 443, proto: 'tcp', expect: 'allow', why: 'NP egress: [{}] + NP ingress: [{}]' },
      { from: 'outsider', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'NP ingress: [{}] allows world too' },
      { from: 'other', to: 'db', port: 5432, proto: 'tcp', expect: 'drop', why: 'policyTypes [Ingress, Egress] with no rules: ingress denied' },
      { from: 'db', to: 'outsider', port: 80, proto: 'tcp', expect: 'EPERM', why: 'policyTypes [Ingress, Egress] with no rules: egress denied' },
      { from: 'db', to: 'outsider', port: 53, proto: 'udp', expect: 'EPERM', why: 'the same for UDP' },
    ],
  },
  {
    name: 'Cilium empty egress rule and entities world, cluster, all',
    policies: ['cnp-frontend-empty-egress', 'cnp-entities'],
    rows: [
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'EPERM', why: 'Cilium egress: [{}] denies all egress' },
      { from: 'frontend', to: 'outsider', port: 80, proto: 'tcp', expect: 'EPERM', why: 'Cilium egress: [{}] denies world too' },
      { from: 'outsider', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'fromEntities world' },
      { from: 'other', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'a workload is not world' },
      { from: 'other', to: 'db', port: 5432, proto: 'tcp', expect: 'allow', why: 'fromEntities cluster: a workload' },
      { from: 'evilfront', to: 'db', port: 5432, proto: 'tcp', expect: 'allow', why: 'cluster spans namespaces' },
      { from: 'outsider', to: 'db', port: 5432, proto: 'tcp', expect: 'drop', why: 'world is not cluster' },
      { from: 'other', to: 'outsider', port: 80, proto: 'tcp', expect: 'allow', why: 'toEntities all: world' },
      { from: 'other', to: 'outsider', port: 53, proto: 'udp', expect: 'allow', why: 'toEntities all: UDP too' },
      { from: 'other', to: 'db', port: 5432, proto: 'tcp', v6: true, expect: 'allow', why: 'toEntities all + fromEntities cluster over IPv6' },
    ],
  },
  {
    name: 'Cilium entity host (a workload in the host namespace to the host address)',
    policies: ['cnp-host-to-host'],
    rows: [{ from: 'hostw', to: 'hostip', port: 7, proto: 'tcp', expect: 'allow', why: 'toEntities host: the host own address' }],
  },
  {
    name: 'Cilium entity world excludes the host',
    policies: ['cnp-host-to-world'],
    rows: [{ from: 'hostw', to: 'hostip', port: 7, proto: 'tcp', expect: 'EPERM', why: 'the host is not world' }],
  },
  {
    name: 'Cilium entity cluster includes the host',
    policies: ['cnp-host-to-cluster'],
    rows: [{ from: 'hostw', to: 'hostip', port: 7, proto: 'tcp', expect: 'allow', why: 'cluster = host + workloads' }],
  },
  {
    name: 'Cilium CIDR with except, port range with protocol ANY',
    policies: ['cnp-cidr'],
    rows: [
      { from: 'frontend', to: 100, port: 80, proto: 'tcp', expect: 'allow', why: '.100 in .96/27' },
      { from: 'frontend', to: 101, port: 80, proto: 'tcp', expect: 'EPERM', why: '.101 is the except' },
      { from: 'frontend', to: 102, port: 80, proto: 'tcp', expect: 'allow', why: '.102 in .96/27, next to the except' },
      { from: 'frontend', to: 100, port: 53, proto: 'udp', expect: 'allow', why: 'UDP 53 on the CIDR' },
      { from: 'frontend', to: 101, port: 53, proto: 'udp', expect: 'EPERM', why: 'UDP to the except' },
      { from: 'frontend', to: 100, port: 443, proto: 'tcp', expect: 'EPERM', why: 'port not in toPorts' },
      { from: 'frontend', to: 'web', port: 8010, proto: 'tcp', expect: 'allow', why: 'toEndpoints + endPort, protocol ANY (TCP)' },
      { from: 'frontend', to: 'web', port: 5353, proto: 'udp', expect: 'EPERM', why: '5353 outside 8000-8010' },
      { from: 'frontend', to: 'web', port: 8011, proto: 'tcp', expect: 'EPERM', why: 'past endPort' },
      { from: 'frontend', to: 'web', port: 5432, proto: 'tcp', expect: 'EPERM', why: 'toCIDR 10.215.S.0/24 does not select the workload web' },
      { from: 'frontend', to: 100, port: 5432, proto: 'tcp', expect: 'allow', why: 'toCIDR 10.215.S.0/24 covers the world address .100' },
    ],
  },
  {
    name: 'Deny wins across policies and kinds',
    policies: ['deny-precedence'],
    rows: [
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'fromEntities all' },
      { from: 'other', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'ingressDeny beats fromEntities all and the NP allow' },
      { from: 'other', to: 'web', port: 443, proto: 'tcp', expect: 'allow', why: 'the deny is for port 80 only' },
      { from: 'outsider', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'the deny names other only' },
      { from: 'frontend', to: 100, port: 80, proto: 'tcp', expect: 'EPERM', why: 'clusterwide egressDeny beats toEntities all' },
      { from: 'frontend', to: 102, port: 80, proto: 'tcp', expect: 'allow', why: 'toEntities all, not in the deny' },
    ],
  },
  {
    name: 'Cilium namespace scoping',
    policies: ['ns-scoping'],
    rows: [
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'allow', why: 'shop frontend → shop web' },
      { from: 'frontend', to: 'outsider', port: 80, proto: 'tcp', expect: 'EPERM', why: 'shop frontend is selected: egress default deny' },
      { from: 'evilfront', to: 'outsider', port: 80, proto: 'tcp', expect: 'allow', why: 'the CNP in shop does not select evil frontend' },
      { from: 'evilfront', to: 'web', port: 80, proto: 'tcp', expect: 'drop', why: 'fromEndpoints of a CNP stays in its namespace' },
      { from: 'evilfront', to: 'db', port: 5432, proto: 'tcp', expect: 'allow', why: 'clusterwide fromEndpoints spans namespaces' },
      { from: 'other', to: 'db', port: 5432, proto: 'tcp', expect: 'drop', why: 'other is not frontend' },
    ],
  },
  {
    name: 'Audit mode',
    policies: ['cnp-web-from-frontend-audit@audit', 'np-other-egress-audit-annotation'],
    rows: [
      { from: 'frontend', to: 'web', port: 80, proto: 'tcp', expect: 'allow', verdict: 'FORWARDED', why: 'allowed by the audited policy' },
      { from: 'outsider', to: 'web', port: 443, proto: 'tcp', expect: 'allow', verdict: 'AUDIT', why: '--mode audit: would be dropped, passes' },
      { from: 'other', to: 'outsider', port: 80, proto: 'tcp', expect: 'allow', verdict: 'AUDIT', why: 'palisade.io/mode annotation: would be EPERM, passes' },
      { from: 'other', to: 'outsider', port: 53, proto: 'udp', expect: 'allow', verdict: 'AUDIT', why: 'the same for UDP' },
    ],
  },
];

// ---------------------------------------------------------------------------------------------------

describe.skipIf(skip)('network policy end to end through the agent', () => {
  let topo: Topology;
  let agent: RunningAgent;
  let dir: string;
  let hostIp: string | null;
  const cli = async (args: string[]) => runCli([...args, '--socket', agent.socket]);

  const addrOf = (to: Row['to'], six = false): string => {
    if (to === 'hostip') return hostIp!;
    if (typeof to === 'number') return six ? v6(to) : v4(to);
    return six ? v6(SPECS[to].host) : v4(SPECS[to].host);
  };

  async function addPolicy(key: string): Promise<void> {
    const [name, mode] = key.split('@') as [string, string | undefined];
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, POL[name]!.replace(/@S/g, String(S)));
    const r = await cli(['netpol', 'add', file, ...(mode ? ['--mode', mode] : [])]);
    expect(r.code, `netpol add ${name}: ${r.stderr}`).toBe(0);
  }

  async function clearPolicies(): Promise<void> {
    const r = await cli(['netpol', 'list', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; namespace: string | null }[];
    for (const p of list) {
      const d = await cli(['netpol', 'delete', p.name, ...(p.namespace ? ['-n', p.namespace] : [])]);
      expect(d.code, d.stderr).toBe(0);
    }
  }

  async function setPolicies(keys: string[]): Promise<void> {
    await clearPolicies();
    for (const k of keys) await addPolicy(k);
  }

  /** Runs one exchange; the connect timeout is short when a drop is expected. */
  async function exchange(from: Peer | WName, to: Row['to'], port: number, proto: 'tcp' | 'udp', six: boolean, expectDrop: boolean): Promise<{ outcome: string; r: PeerReply }> {
    const peer = typeof from === 'string' ? topo.peers.get(from)! : from;
    const host = addrOf(to, six);
    const timeoutMs = expectDrop ? 400 : 3000;
    const data = `ping-${port}`;
    const r = proto === 'tcp'
      ? await peer.call('connect', { host, port, data, timeoutMs })
      : await peer.call('udp', { host, port, data, timeoutMs });
    let outcome: string;
    if (r.ok) outcome = r.reply === data ? 'allow' : `bad reply ${String(r.reply)}`;
    else if (to === 'hostip' && r.code === 'ECONNREFUSED') outcome = 'allow';
    else if (r.code === 'EPERM') outcome = 'EPERM';
    else if (r.code === 'TIMEOUT') outcome = 'drop';
    else outcome = `${r.code}: ${r.message}`;
    return { outcome, r };
  }

  /** network_flow objects exported so far (only those lines are parsed: the export also has every exec on the box). */
  const flows = (): Ev[] => readRotated(agent.file).filter((l) => l.includes('"network_flow"')).map((l) => (JSON.parse(l) as Ev).network_flow as Ev);
  const verdictEvents = (): Ev[] => flows().filter((f) => f.event === 'verdict');

  beforeAll(async () => {
    hostIp = hostAddress();
    topo = new Topology(cg2!);
    try {
      topo.setup();
      dir = mkdtempSync(join(tmpdir(), `npe2e-${PID}-`));
      const wfile = join(dir, 'workloads.yaml');
      const fileEntries = (Object.entries(SPECS) as [WName, WSpec][]).filter(([, s]) => s.byFile)
        .map(([n, s]) => `- cgroup: ${CG_REL}/${n}\n  namespace: ${s.namespace}\n  labels: ${JSON.stringify(s.labels)}\n`).join('');
      writeFileSync(wfile, fileEntries);
      agent = await startAgent(['--workloads-file', wfile]);
      // processes after the agent: exec marks (binaries rules) are set at exec
      for (const w of Object.keys(SPECS) as WName[]) topo.peers.set(w, await topo.startPeer(w));
      for (const [n, s] of Object.entries(SPECS) as [WName, WSpec][]) {
        if (!s.labels || s.byFile) continue;
        const r = await cli(['endpoint', 'label', `${CG_REL}/${n}`, ...Object.entries(s.labels).map(([k, v]) => `${k}=${v}`), '--namespace', s.namespace!]);
        expect(r.code, r.stderr).toBe(0);
      }
      // listeners: every netns workload serves the same ports on all its addresses
      for (const [n, s] of Object.entries(SPECS) as [WName, WSpec][]) {
        if (!s.netns) continue;
        const p = topo.peers.get(n)!;
        for (const port of TCP_PORTS) expect((await p.call('listen', { proto: 'tcp', port })).ok).toBe(true);
        for (const port of UDP_PORTS) {
          // one socket per address: a reply leaves from the address the request came to
          for (const h of [s.host, ...(s.extra ?? [])]) expect((await p.call('listen', { proto: 'udp', port, host: v4(h) })).ok).toBe(true);
          expect((await p.call('listen', { proto: 'udp', port, host: v6(s.host) })).ok).toBe(true);
        }
      }
      // wait until every labelled workload has its identity and addresses
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await cli(['endpoint', 'list', '-o', 'json']);
        const eps = (JSON.parse(r.stdout) as { endpoints: { cgroup: string; identity?: number; ips: string[] }[] }).endpoints;
        const ready = (Object.entries(SPECS) as [WName, WSpec][]).filter(([, s]) => s.labels).every(([n, s]) => {
          const ep = eps.find((e) => e.cgroup === `${CG_REL}/${n}`);
          return ep && ep.identity !== undefined && (!s.netns || (ep.ips.includes(v4(s.host)) && ep.ips.includes(v6(s.host))));
        });
        if (ready) break;
        if (Date.now() > deadline) throw new Error(`workloads not ready: ${r.stdout}`);
        await sleep(250);
      }
    } catch (e) {
      await topo.destroy();
      throw e;
    }
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    cleanup(agent);
    // nothing left behind
    const leftover = sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(TAG));
    expect(leftover).toEqual([]);
    expect(existsSync(join(cg2!, CG_REL))).toBe(false);
  }, 30_000);

  const caseName = (r: Row) =>
    `${r.from} → ${typeof r.to === 'number' ? v4(r.to) : r.to}:${r.port}/${r.proto}${r.v6 ? ' (IPv6)' : ''} ${r.expect}${r.verdict ? ` ${r.verdict}` : ''}: ${r.why}`;

  for (const g of GROUPS) {
    describe(`truth table: ${g.name} [${g.policies.join(', ')}]`, () => {
      beforeAll(async () => {
        await setPolicies(g.policies);
      }, 30_000);
      for (const row of g.rows) {
        it(caseName(row), async () => {
          if (row.to === 'hostip' && hostIp === null) return; // no address of its own on this host
          const before = verdictEvents().length;
          const { outcome } = await exchange(row.from, row.to, row.port, row.proto, row.v6 ?? false, row.expect === 'drop');
          expect(outcome).toBe(row.expect);
          if (row.verdict) {
            const dst = addrOf(row.to, row.v6);
            await agent.waitFor(
              () => verdictEvents().slice(before).some((f) => f.verdict === row.verdict && f.destination.ip === dst && f.destination.port === row.port),
              5000, `${row.verdict} verdict to ${dst}:${row.port}`,
            );
          }
        });
      }
    });
  }
});
