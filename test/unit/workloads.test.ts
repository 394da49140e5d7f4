// Workloads: container cgroup names, netns address parsers (on real /proc contents), the labels
// file, label arguments, and the store over a cgroup-like directory tree.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalIpv6, parseFibTrieLocal, parseIfInet6 } from '../../agent/identity/addresses.js';
import { normalizeCgroupPath, walkCgroups } from '../../agent/identity/cgroups.js';
import { parseLabelArgs } from '../../agent/identity/labels.js';
import { parseWorkloadsFile } from '../../agent/identity/labels-file.js';
import { containerLabels, mayHoldContainers, parseContainerCgroup } from '../../agent/identity/runtime.js';
import { WorkloadStore } from '../../agent/identity/store.js';
import { handleEndpointRequest, type EndpointListJson } from '../../agent/api/endpoints.js';
import { formatPolicyError } from '../../tracing/policy/errors.js';
import type { Workload } from '../../network/model.js';

const ID = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const ID2 = 'c'.repeat(64);
const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

describe('container cgroup paths', () => {
  it.each([
    [`/system.slice/docker-${ID}.scope`, { runtime: 'docker', containerId: ID }],
    [`/docker/${ID}`, { runtime: 'docker', containerId: ID }],
    [`/docker/${ID2}/docker/${ID}`, { runtime: 'docker', containerId: ID }],
    [`/system.slice/containerd.service/cri-containerd-${ID}.scope`, { runtime: 'containerd', containerId: ID }],
    [`/machine.slice/libpod-${ID}.scope`, { runtime: 'podman', containerId: ID }],
    [`/machine.slice/libpod-${ID}.scope/container`, { runtime: 'podman', containerId: ID }],
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
      { runtime: 'containerd', containerId: ID, podUid: UID },
    ],
    [`/kubepods.slice/kubepods-pod${UID.replaceAll('-', '_')}.slice/crio-${ID}.scope`, { runtime: 'cri-o', containerId: ID, podUid: UID }],
    [`/kubepods/besteffort/pod${UID}/${ID}`, { runtime: 'unknown', containerId: ID, podUid: UID }],
    [`/kubepods/pod${UID}/crio-${ID}`, { runtime: 'cri-o', containerId: ID, podUid: UID }],
  ])('%s', (path, want) => {
    expect(parseContainerCgroup(path)).toEqual(want);
  });

  it.each([
    '/', '/system.slice/nginx.service', `/system.slice/crio-conmon-${ID}.scope`, `/system.slice/docker-${ID.slice(1)}.scope`,
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice`, `/user.slice/${ID}`,
  ])('not a container: %s', (path) => {
    expect(parseContainerCgroup(path)).toBeNull();
  });

  it('the discovery walk enters slices, kubepods, docker, user managers and podman scopes only', () => {
    expect(['/system.slice', '/kubepods', '/kubepods/burstable', `/kubepods/burstable/pod${UID}`, '/docker', '/user.slice/user-1000.slice/user@1000.service', `/machine.slice/libpod-${ID}.scope`]
      .filter(mayHoldContainers)).toHaveLength(7);
    expect(['/system.slice/sshd.service', `/system.slice/docker-${ID}.scope`, '/init.scope', '/palisade-test'].filter(mayHoldContainers)).toEqual([]);
  });

  it('labels: container-id, and the pod uid where the path has one', () => {
    expect(containerLabels({ runtime: 'docker', containerId: ID })).toEqual({ 'container-id': ID });
    expect(containerLabels({ runtime: 'cri-o', containerId: ID, podUid: UID })).toEqual({ 'container-id': ID, 'k8s:io.kubernetes.pod.uid': UID });
  });
});

// Read from a network namespace with 10.214.9.2/24, 10.214.10.7/32 and fd00:214::9:2/64 on a veth.
// /proc/net/fib_trie prints the same tree under Main and Local: each address must still come out once.
const FIB_TABLE = `  +-- 0.0.0.0/1 2 0 2
     +-- 10.214.8.0/22 3 0 5
        +-- 10.214.9.0/30 2 0 2
           |-- 10.214.9.0
              /24 link UNICAST
           |-- 10.214.9.2
              /32 host LOCAL
        |-- 10.214.9.255
           /32 link BROADCAST
        |-- 10.214.10.7
           /32 host LOCAL
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
`;
const FIB_TRIE = `Main:\n${FIB_TABLE}Local:\n${FIB_TABLE}`;
const IF_INET6 = `fe800000000000006c7335fffe3002be 02 40 20 c0 palwlcap1
fd000214000000000000000000090002 02 40 00 82 palwlcap1
00000000000000000000000000000001 01 80 10 80       lo
`;

describe('netns addresses', () => {
  it('fib_trie: the /32 host LOCAL leaves, once each, without loopback, broadcast or networks', () => {
    expect(parseFibTrieLocal(FIB_TRIE)).toEqual(['10.214.9.2', '10.214.10.7']);
  });
  it('fib_trie of a namespace with only loopback: none', () => {
    expect(parseFibTrieLocal('Main:\n  +-- 127.0.0.0/8 2 0 2\n     |-- 127.0.0.1\n        /32 host LOCAL\n')).toEqual([]);
    expect(parseFibTrieLocal('')).toEqual([]);
  });
  it('if_inet6: global addresses in canonical form; link-local and ::1 left out', () => {
    expect(parseIfInet6(IF_INET6)).toEqual(['fd00:214::9:2']);
  });
  it('if_inet6: addresses that failed duplicate detection are left out', () => {
    expect(parseIfInet6('fd000214000000000000000000090003 02 40 00 08 eth0\n')).toEqual([]);
  });
  it('canonical IPv6 text (RFC 5952)', () => {
    expect(canonicalIpv6('fd00:0000:0000:0000:0000:0000:0000:0002')).toBe('fd00::2');
    expect(canonicalIpv6('2001:0db8:0000:0001:0000:0000:0000:0001')).toBe('2001:db8:0:1::1');
  });
});

describe('cgroup paths users write', () => {
  const root = '/sys/fs/cgroup/unified';
  it.each([
    ['/system.slice/web.service', '/system.slice/web.service'],
    ['system.slice/web.service/', '/system.slice/web.service'],
    ['/sys/fs/cgroup/unified/system.slice/web.service', '/system.slice/web.service'],
    ['/sys/fs/cgroup/unified', '/'],
    ['//a/./b', '/a/b'],
  ])('%s → %s', (input, want) => expect(normalizeCgroupPath(input, root)).toBe(want));
  it('a path that climbs out is refused', () => expect(normalizeCgroupPath('/a/../../etc', root)).toBeNull());
});

describe('label arguments', () => {
  it('key=value pairs, the value may be empty', () => {
    expect(parseLabelArgs(['app=web', 'k8s:io.kubernetes.pod.name=web-1', 'empty='])).toEqual({
      app: 'web', 'k8s:io.kubernetes.pod.name': 'web-1', empty: '',
    });
  });
  it.each([
    ['app', /"app": expected key=value/],
    ['=web', /expected key=value/],
    ['reserved:host=1', /"reserved:" prefix is for identities Palisade assigns/],
    ['-app=web', /not a valid label key/],
    ['app=we b', /not a valid label value/],
    ['app=a=b', /"a=b" is not a valid label value/],
  ])('%s is refused', (arg, re) => expect(() => parseLabelArgs([arg])).toThrow(re));
});

describe('labels file', () => {
  const root = '/sys/fs/cgroup/unified';
  it('entries with defaults: namespace "default", paths made canonical', () => {
    const r = parseWorkloadsFile('- cgroup: system.slice/web.service\n  labels: {app: web}\n- cgroup: /sys/fs/cgroup/unified/db\n  namespace: data\n  labels:\n    app: db\n    port: 5432\n', 'w.yaml', root);
    expect(r.errors).toEqual([]);
    expect(r.entries).toEqual([
      { cgroup: '/system.slice/web.service', namespace: 'default', labels: { app: 'web' }, line: 1 },
      { cgroup: '/db', namespace: 'data', labels: { app: 'db', port: '5432' }, line: 3 },
    ]);
  });
  it('an empty file labels nothing', () => {
    expect(parseWorkloadsFile('', 'w.yaml', root)).toEqual({ entries: [], errors: [] });
    expect(parseWorkloadsFile('# nothing yet\n', 'w.yaml', root)).toEqual({ entries: [], errors: [] });
  });
  it('every mistake with file:line:column and field', () => {
    const text = [
      '- cgroup: /a', //                       1
      '  namespce: web', //                    2 unknown field
      '- cgroup: /b', //                       3
      '  namespace: Web_1', //                 4 bad namespace
      '  labels:', //                          5
      '    -bad: x', //                        6 bad key
      '    ok: "two words"', //                7 bad value
      '- labels: {app: x}', //                 8 no cgroup
      '- cgroup: a', //                        9 duplicate of line 1
      '- cgroup: /c/../../x', //               10
    ].join('\n');
    const r = parseWorkloadsFile(text, 'w.yaml', root);
    expect(r.errors.map(formatPolicyError)).toEqual([
      'w.yaml:2:3 [0].namespce: unknown field (did you mean "namespace"?)',
      'w.yaml:4:14 [1].namespace: "Web_1" is not a valid namespace: lower-case letters, digits and \'-\', at most 63 characters',
      'w.yaml:6:5 [1].labels.-bad: "-bad" is not a valid label key: use letters, digits, \'.\', \'_\', \'-\', \'/\' and \':\', starting and ending with a letter or digit, at most 253 characters',
      'w.yaml:7:9 [1].labels.ok: "two words" is not a valid label value: use letters, digits and \'.\', \'_\', \'-\', \':\', \'/\', \'@\', \'+\', at most 256 characters',
      'w.yaml:8:3 [2].cgroup: required field is missing',
      'w.yaml:9:11 [3].cgroup: /a is already labelled at line 1',
      'w.yaml:10:11 [4].cgroup: "/c/../../x" leaves the cgroup tree ("..")',
    ]);
    // Only entries without errors come back (the store applies none of a file with errors).
    expect(r.entries.map((e) => e.cgroup)).toEqual(['/a']);
  });
  it('not a list, and YAML syntax errors', () => {
    expect(parseWorkloadsFile('cgroup: /a\n', 'w.yaml', root).errors.map(formatPolicyError)).toEqual(['w.yaml:1:1: expected a list of entries (- cgroup: …, namespace: …, labels: {…}), got a mapping']);
    expect(parseWorkloadsFile('- cgroup: [\n', 'w.yaml', root).errors[0]).toMatchObject({ file: 'w.yaml', line: 2, path: '' });
  });
});

/** A directory tree shaped like cgroupfs: directories with cgroup.procs files. */
class FakeCgroups {
  readonly root = mkdtempSync(join(tmpdir(), 'pal-cg-'));
  add(path: string, pids: number[] = []): bigint {
    mkdirSync(this.root + path, { recursive: true });
    writeFileSync(this.root + path + '/cgroup.procs', pids.map((p) => `${p}\n`).join(''));
    return statSync(this.root + path, { bigint: true }).ino;
  }
  remove(path: string): void {
    rmSync(this.root + path, { recursive: true, force: true });
  }
}

describe('WorkloadStore', () => {
  let cg: FakeCgroups;
  let file: string;
  let store: WorkloadStore;
  const changes: Workload[][] = [];
  beforeEach(() => {
    cg = new FakeCgroups();
    file = join(cg.root, '..', `${cg.root.split('/').pop()}-workloads.yaml`);
    changes.length = 0;
    store = new WorkloadStore({ cgroupRoot: cg.root, labelsFile: file, refreshIntervalMs: 0 });
    store.onChange((ws) => changes.push([...ws]));
  });
  afterEach(() => {
    store.stop();
    rmSync(cg.root, { recursive: true, force: true });
    rmSync(file, { force: true });
  });

  it('finds container cgroups by name, with their labels and ids; other cgroups are not workloads', () => {
    const dockerId = cg.add(`/system.slice/docker-${ID}.scope`, [process.pid]);
    cg.add('/system.slice/sshd.service', [1]);
    const podPath = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-${ID2}.scope`;
    const podId = cg.add(podPath);
    cg.add(`/system.slice/sshd.service/docker-${ID2}.scope`); // inside a service: not searched
    store.start();
    expect(store.list()).toEqual([
      { cgroupId: podId, cgroupPath: podPath, namespace: 'default', labels: { 'container-id': ID2, 'k8s:io.kubernetes.pod.uid': UID }, ips: [] },
      // The test runs in the host's network namespace: no addresses of its own.
      { cgroupId: dockerId, cgroupPath: `/system.slice/docker-${ID}.scope`, namespace: 'default', labels: { 'container-id': ID }, ips: [] },
    ]);
    expect(store.details().map((d) => [d.processes, d.sources])).toEqual([[0, ['container']], [1, ['container']]]);
    expect(store.get(dockerId)?.cgroupPath).toBe(`/system.slice/docker-${ID}.scope`);
    expect(changes).toHaveLength(1);
    expect(store.refresh()).toBe(false); // nothing changed: no notification
    expect(changes).toHaveLength(1);
    cg.remove(podPath);
    expect(store.refresh()).toBe(true);
    expect(store.get(podId)).toBeUndefined();
    expect(changes[1]!.map((w) => w.cgroupPath)).toEqual([`/system.slice/docker-${ID}.scope`]);
  });

  it('file labels: applied, waiting for cgroups that do not exist yet, reloaded when the file changes', () => {
    writeFileSync(file, '- cgroup: /web\n  namespace: shop\n  labels: {app: web}\n- cgroup: /later\n  labels: {app: later}\n');
    const webId = cg.add('/web', [process.pid]);
    store.start();
    expect(store.list()).toEqual([{ cgroupId: webId, cgroupPath: '/web', namespace: 'shop', labels: { app: 'web' }, ips: [] }]);
    expect(store.pendingCgroups()).toEqual([{ cgroupPath: '/later', sources: ['file'] }]);
    const laterId = cg.add('/later');
    store.refresh();
    expect(store.get(laterId)).toMatchObject({ cgroupPath: '/later', labels: { app: 'later' } });

    writeFileSync(file, '- cgroup: /web\n  namespace: shop\n  labels: {app: web, tier: front}\n');
    store.refresh();
    expect(store.list()).toEqual([{ cgroupId: webId, cgroupPath: '/web', namespace: 'shop', labels: { app: 'web', tier: 'front' }, ips: [] }]);
    expect(store.labelsFileStatus()).toEqual({ file, loaded: true, entries: 1, errors: [] });
  });

  it('a file with a mistake is refused and the labels of the last good one stay', () => {
    writeFileSync(file, '- cgroup: /web\n  labels: {app: web}\n');
    cg.add('/web');
    store.start();
    writeFileSync(file, '- cgroup: /web\n  labels: {app: web}\n  lables: {tier: x}\n');
    store.refresh();
    expect(store.list().map((w) => w.labels)).toEqual([{ app: 'web' }]);
    expect(store.labelsFileStatus().errors).toEqual([`${file}:3:3 [0].lables: unknown field (did you mean "labels"?)`]);
    rmSync(file);
    store.refresh();
    expect(store.list()).toEqual([]); // removing the file is deliberate: its labels go
  });

  it('API labels: merged over file and container labels, the cgroup must exist, unlabel leaves the others', () => {
    writeFileSync(file, `- cgroup: /system.slice/docker-${ID}.scope\n  labels: {app: file, tier: back}\n`);
    cg.add(`/system.slice/docker-${ID}.scope`);
    store.start();
    const w = store.label(`system.slice/docker-${ID}.scope`, { app: 'api' }, 'shop');
    expect(w).toMatchObject({ namespace: 'shop', labels: { app: 'api', 'container-id': ID, tier: 'back' }, sources: ['file', 'api', 'container'] });
    expect(Object.keys(w.labels)).toEqual(['app', 'container-id', 'tier']); // sorted
    expect(() => store.label('/nope', { app: 'x' })).toThrow(`no cgroup /nope under ${cg.root}`);
    expect(() => store.label('/web', { 'reserved:host': '' })).toThrow(/reserved/);
    // Requests arrive as JSON: values that are not strings are refused, not stored.
    expect(() => store.label(`/system.slice/docker-${ID}.scope`, { port: 80 } as unknown as Record<string, string>)).toThrow('label "port": expected a string value, got 80');
    expect(store.unlabel(`/system.slice/docker-${ID}.scope`)).toBe(true);
    expect(store.list()[0]).toMatchObject({ namespace: 'default', labels: { app: 'file', 'container-id': ID, tier: 'back' } });
    expect(store.unlabel(`/system.slice/docker-${ID}.scope`)).toBe(false);
  });

  it('endpoint_* requests: label, list with identities, unlabel, and errors as {error}', () => {
    const id = cg.add('/web', [process.pid]);
    store.start();
    const ctx = { store, identityOf: (c: bigint) => (c === id ? 300 : undefined) };
    expect(handleEndpointRequest(ctx, { op: 'endpoint_label', cgroup: '/web', labels: { app: 'web' } })).toEqual({
      endpoint: { cgroup: '/web', id: String(id), namespace: 'default', labels: { app: 'web' }, identity: 300, ips: [], processes: 1, sources: ['api'] },
    });
    const list = handleEndpointRequest(ctx, { op: 'endpoint_list' }) as EndpointListJson;
    expect(list.endpoints.map((e) => e.identity)).toEqual([300]);
    expect(list.labels_file).toEqual({ file, loaded: false, entries: 0, errors: [] });
    expect(handleEndpointRequest(ctx, { op: 'endpoint_label', cgroup: '/web', labels: { app: 'a b' } })).toEqual({ error: expect.stringMatching(/not a valid label value/) });
    expect(handleEndpointRequest(ctx, { op: 'endpoint_unlabel', cgroup: '/web' })).toEqual({ unlabelled: '/web' });
    expect(handleEndpointRequest(ctx, { op: 'endpoint_unlabel', cgroup: '/web' })).toEqual({ error: '/web has no labels set through the API' });
  });

  it('walks the tree once per directory and finds nested cgroups', () => {
    cg.add('/a/b/c');
    cg.add('/a/d');
    expect(walkCgroups(cg.root, () => true).sort()).toEqual(['/a', '/a/b', '/a/b/c', '/a/d']);
    expect(walkCgroups(cg.root, () => true, (p) => p !== '/a/b').sort()).toEqual(['/a', '/a/b', '/a/d']);
  });
});
