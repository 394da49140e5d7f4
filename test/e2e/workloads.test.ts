// Workloads on the real kernel: a cgroup and a network namespace made here (veth, 10.214.x.y), found
// by the WorkloadStore with the right cgroup id and addresses; then `palisade endpoint` and
// `palisade observe` against a local API served by this test (no BPF needed).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleEndpointRequest, type EndpointListJson } from '../../agent/api/endpoints.js';
import { LocalServer } from '../../agent/api/local.js';
import { serveObserve } from '../../agent/api/observe.js';
import { findCgroup2Mount } from '../../agent/process/procfs.js';
import { WorkloadStore } from '../../agent/identity/store.js';
import { FlowHistory } from '../../network/flows/history.js';
import type { FlowJson } from '../../network/flows/types.js';
import type { Workload } from '../../network/model.js';
import { cleanup, PALISADE, runCli, startAgent, type RunningAgent } from '../helpers/agent.js';

const tag = `${process.pid}`;
const x = process.pid % 250;
const NETNS = `palwl-${tag}`;
const VETH = `pwl${tag}a`.slice(0, 15);
const PEER = `pwl${tag}b`.slice(0, 15);
const IP4 = `10.214.${x}.2`;
const IP4_EXTRA = `10.214.${x}.9`;
const IP6 = `fd00:214::${x}:2`;
const root = findCgroup2Mount()!;
const base = `/palisade-e2e-wl-${tag}`;
const WEB = `${base}/web`;
const HOSTSVC = `${base}/hostsvc`;
const dir = mkdtempSync(join(tmpdir(), 'pal-wl-'));
const labelsFile = join(dir, 'workloads.yaml');
const children: ChildProcess[] = [];

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const netnsOf = (pid: number | 'self'): string => readlinkSync(`/proc/${pid}/ns/net`);

/** A `sleep` placed in a cgroup before it runs, optionally inside our network namespace. */
async function startIn(cgroup: string, netns?: string): Promise<ChildProcess> {
  const run = netns ? `exec ip netns exec ${netns} sleep 600` : 'exec sleep 600';
  const c = spawn('sh', ['-c', `echo $$ > ${root}${cgroup}/cgroup.procs && ${run}`], { stdio: 'ignore' });
  children.push(c);
  const end = Date.now() + 10_000;
  // Ready when it runs sleep (in the namespace, when asked).
  while (Date.now() < end) {
    try {
      const comm = readFileSync(`/proc/${c.pid}/comm`, 'utf8').trim();
      if (comm === 'sleep' && (!netns || netnsOf(c.pid!) !== netnsOf('self'))) return c;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process in ${cgroup} did not start`);
}

function cleanupAll(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const cg of [WEB, HOSTSVC, base]) {
    for (let i = 0; i < 50 && existsSync(root + cg); i++) {
      try {
        rmdirSync(root + cg);
      } catch {
        execFileSync('sleep', ['0.05']); // killed processes leave the cgroup a moment later
      }
    }
  }
  try {
    sh('ip', ['link', 'del', VETH]);
  } catch {
    // gone with the namespace
  }
  try {
    sh('ip', ['netns', 'del', NETNS]);
  } catch {
    // never made
  }
  rmSync(dir, { recursive: true, force: true });
}

let web: ChildProcess;

beforeAll(async () => {
  sh('ip', ['netns', 'add', NETNS]);
  sh('ip', ['link', 'add', VETH, 'type', 'veth', 'peer', 'name', PEER, 'netns', NETNS]);
  sh('ip', ['-n', NETNS, 'addr', 'add', `${IP4}/24`, 'dev', PEER]);
  sh('ip', ['-n', NETNS, '-6', 'addr', 'add', `${IP6}/64`, 'dev', PEER, 'nodad']);
  sh('ip', ['-n', NETNS, 'link', 'set', PEER, 'up']);
  sh('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
  sh('ip', ['link', 'set', VETH, 'up']);
  mkdirSync(root + WEB, { recursive: true });
  mkdirSync(root + HOSTSVC, { recursive: true });
  web = await startIn(WEB, NETNS);
  await startIn(HOSTSVC); // a host service: runs in its cgroup until cleanupAll
});
afterAll(cleanupAll);

describe('WorkloadStore on real cgroups and namespaces', () => {
  it('the cgroup id is the directory inode (stat -c %i), the path is the one /proc/PID/cgroup names', () => {
    const store = new WorkloadStore({ cgroupRoot: root, labelsFile: null, refreshIntervalMs: 0, discoverContainers: false });
    const w = store.label(WEB, { app: 'web' });
    expect(String(w.cgroupId)).toBe(sh('stat', ['-c', '%i', root + WEB]).trim());
    const line = readFileSync(`/proc/${web.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!;
    expect(line.slice(3)).toBe(w.cgroupPath);
    expect(w.processes).toBe(1);
  });

  it('the kernel agrees: a task in the cgroup has that id as bpf_get_current_cgroup_id (the exec event says)', async () => {
    const store = new WorkloadStore({ cgroupRoot: root, labelsFile: null, refreshIntervalMs: 0, discoverContainers: false });
    const w = store.label(WEB, { app: 'web' });
    let agent: RunningAgent | undefined;
    try {
      agent = await startAgent();
      const marker = `palwl-marker-${tag}`;
      execFileSync('sh', ['-c', `echo $$ > ${root}${WEB}/cgroup.procs && exec /bin/echo ${marker}`]);
      const evs = await agent.waitFor((e) => e.some((ev) => ev.process_exec?.process.arguments === marker), 30_000, 'the exec in the cgroup');
      const exec = evs.find((ev) => ev.process_exec?.process.arguments === marker)!.process_exec.process;
      expect(exec.cgroup).toEqual({ id: String(w.cgroupId), path: WEB });
    } finally {
      await agent?.stop();
      cleanup(agent);
    }
  });

  it('a workload in its own namespace has that namespace addresses; one in the host namespace has none', () => {
    writeFileSync(labelsFile, `- cgroup: ${WEB}\n  namespace: shop\n  labels: {app: web}\n- cgroup: ${root}${HOSTSVC}\n  labels: {app: hostsvc}\n`);
    const store = new WorkloadStore({ cgroupRoot: root, labelsFile, refreshIntervalMs: 0, discoverContainers: false });
    const changes: Workload[][] = [];
    store.onChange((ws) => changes.push([...ws]));
    store.start();
    const byPath = new Map(store.list().map((w) => [w.cgroupPath, w]));
    expect(byPath.get(WEB)).toMatchObject({ namespace: 'shop', labels: { app: 'web' }, ips: [IP4, IP6] });
    expect(byPath.get(HOSTSVC)).toMatchObject({ namespace: 'default', labels: { app: 'hostsvc' }, ips: [] });
    expect(changes).toHaveLength(1);

    // A new address in the namespace: the next refresh sees it and tells listeners.
    sh('ip', ['-n', NETNS, 'addr', 'add', `${IP4_EXTRA}/32`, 'dev', PEER]);
    expect(store.refresh()).toBe(true);
    expect(changes.at(-1)!.find((w) => w.cgroupPath === WEB)!.ips).toEqual([IP4, IP4_EXTRA, IP6]);
    expect(store.refresh()).toBe(false);
  });

  it('the timer refresh notices a workload whose cgroup goes away', async () => {
    const extra = `${base}/gone`;
    mkdirSync(root + extra);
    writeFileSync(labelsFile, `- cgroup: ${extra}\n  labels: {app: gone}\n`);
    const store = new WorkloadStore({ cgroupRoot: root, labelsFile, refreshIntervalMs: 100, discoverContainers: false });
    store.start();
    try {
      expect(store.list().map((w) => w.cgroupPath)).toEqual([extra]);
      const gone = new Promise<readonly Workload[]>((r) => store.onChange(r));
      rmdirSync(root + extra);
      expect(await gone).toEqual([]);
      expect(store.pendingCgroups()).toEqual([{ cgroupPath: extra, sources: ['file'] }]);
    } finally {
      store.stop();
    }
  });
});

const flow = (src: string, dst: string, verdict: FlowJson['verdict'], port: number): string =>
  JSON.stringify({
    network_flow: {
      type: 'policy-verdict', event: 'verdict', verdict, traffic_direction: 'EGRESS', protocol: 'TCP',
      source: { identity: 256, labels: ['app=web'], namespace: 'shop', workload: WEB, ip: src, port: 40000 },
      destination: { identity: 2, labels: ['reserved:world'], ip: dst, port },
      process: { pid: web.pid, binary: '/usr/bin/sleep' },
    },
    node_name: 'n1',
    time: new Date().toISOString(),
  });

describe('palisade endpoint and observe against the local API', () => {
  let server: LocalServer;
  let store: WorkloadStore;
  const history = new FlowHistory(64);
  const socket = join(dir, 'api.sock');

  beforeAll(async () => {
    rmSync(labelsFile, { force: true });
    store = new WorkloadStore({ cgroupRoot: root, labelsFile, refreshIntervalMs: 0, discoverContainers: false });
    store.start();
    server = new LocalServer(socket, {
      status: () => ({}),
      policy: () => ({ error: 'none' }),
      subscribe: () => undefined,
      unsubscribe: () => undefined,
      endpoints: (req) => handleEndpointRequest({ store, identityOf: () => 4242 }, req),
      observe: (req, sock) => serveObserve(history, req, sock),
    });
    await server.listen();
  });
  afterAll(async () => {
    await server.close();
  });

  it('endpoint label, list (json and table), unlabel', async () => {
    const l = await runCli(['endpoint', 'label', WEB, 'app=api', 'tier=front', '--namespace', 'shop', '--socket', socket]);
    expect(l.stderr).toBe('');
    expect(l.stdout).toMatch(new RegExp(`^labelled ${WEB} \\(id \\d+, namespace shop\\): app=api, tier=front\\n$`));

    const j = await runCli(['endpoint', 'list', '-o', 'json', '--socket', socket]);
    const list = JSON.parse(j.stdout) as EndpointListJson;
    expect(list.endpoints).toEqual([{
      cgroup: WEB, id: sh('stat', ['-c', '%i', root + WEB]).trim(), namespace: 'shop', labels: { app: 'api', tier: 'front' },
      identity: 4242, ips: [IP4, IP4_EXTRA, IP6], processes: 1, sources: ['api'],
    }]);

    const t = await runCli(['endpoint', 'list', '--socket', socket]);
    const [header, row] = t.stdout.trim().split('\n');
    expect(header).toMatch(/^CGROUP\s+ID\s+NAMESPACE\s+IDENTITY\s+PROCS\s+ADDRESSES\s+LABELS$/);
    expect(row).toMatch(new RegExp(`^${WEB}\\s+\\d+\\s+shop\\s+4242\\s+1\\s+${IP4},${IP4_EXTRA},${IP6}\\s+app=api,tier=front$`));
    expect(header!.indexOf('LABELS')).toBe(row!.indexOf('app=api'));

    const u = await runCli(['endpoint', 'unlabel', WEB, '--socket', socket]);
    expect(u.stdout).toBe(`unlabelled ${WEB}\n`);
    expect((await runCli(['endpoint', 'list', '--socket', socket])).stdout).toBe('no workloads\n');
  });

  it('a request without an op gets an error and the server goes on', async () => {
    for (const text of ['null', '{"op":1}', '{}']) {
      const c = createConnection(socket);
      c.end(text + '\n');
      let got = '';
      for await (const chunk of c) got += String(chunk);
      expect(got).toBe('{"error":"request has no op"}\n');
    }
    expect((await runCli(['endpoint', 'list', '--socket', socket])).code).toBe(0);
  });

  it('endpoint errors: bad labels (exit 2, before asking the agent), no such cgroup (from the agent)', async () => {
    const bad = await runCli(['endpoint', 'label', WEB, 'app', '--socket', socket]);
    expect([bad.code, bad.stderr]).toEqual([2, 'palisade: "app": expected key=value\n']);
    const none = await runCli(['endpoint', 'label', '/no/such/cgroup', 'app=x', '--socket', socket]);
    expect([none.code, none.stderr]).toEqual([1, `palisade: no cgroup /no/such/cgroup under ${root}\n`]);
  });

  it('observe: the last flows from the ring, filtered by the agent', async () => {
    history.pushLine(flow(IP4, '1.1.1.1', 'FORWARDED', 443));
    history.pushLine(flow(IP4, '8.8.8.8', 'DROPPED', 53));
    history.pushLine(flow(IP4_EXTRA, '9.9.9.9', 'DROPPED', 853));
    const r = await runCli(['observe', '--verdict', 'DROPPED', '--from-ip', `${IP4}/32`, '--socket', socket]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^\\w{3} \\d{2} [\\d:.]+: ${IP4}:40000 \\(app=web\\) -> 8\\.8\\.8\\.8:53 \\(world\\) policy-verdict egress DROPPED TCP /usr/bin/sleep\\[${web.pid}\\]\\n$`));
    const j = await runCli(['observe', '--last', '2', '-o', 'json', '--socket', socket]);
    expect(j.stdout.trim().split('\n').map((l) => JSON.parse(l).network_flow.destination.ip)).toEqual(['8.8.8.8', '9.9.9.9']);
  });

  it('observe --follow prints new flows as the agent exports them', async () => {
    const p = spawn(PALISADE, ['observe', '--follow', '--port', '8443', '-o', 'json', '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const end = Date.now() + 15_000;
      // Until the client has subscribed, pushes go to the ring only: push until one arrives.
      while (!out.includes('"port":8443') && Date.now() < end) {
        history.pushLine(flow(IP4, '10.214.0.1', 'FORWARDED', 8443));
        history.pushLine(flow(IP4, '10.214.0.1', 'FORWARDED', 9000));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toContain('"port":8443');
      expect(out).not.toContain('"port":9000');
    } finally {
      p.kill('SIGTERM');
    }
  });

  it('observe --file reads an export file, skipping other events; a bad flag names the flag', async () => {
    const f = join(dir, 'events.log');
    writeFileSync(f, [
      '{"process_exec":{"process":{"pid":1,"binary":"/sbin/init"}},"time":"2026-11-23T00:00:00Z"}',
      flow(IP4, '1.1.1.1', 'FORWARDED', 443),
      'garbage',
      flow(IP4, '8.8.8.8', 'AUDIT', 53),
    ].join('\n') + '\n');
    const r = await runCli(['observe', '--file', f, '-o', 'table', '--verdict', 'AUDIT']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^TIME\s+SOURCE\s+DESTINATION\s+TYPE\s+VERDICT\s+SUMMARY$/);
    expect(lines[1]).toMatch(/8\.8\.8\.8:53 \(world\)\s+policy-verdict\s+AUDIT \(would drop\)\s+egress TCP/);
    expect(r.stderr).toBe(`palisade: ${f}:3: not a JSON event, skipped\n`);
    const last = await runCli(['observe', '--file', f, '--last', '1', '-o', 'json']);
    expect(last.stdout.trim().split('\n').map((l) => JSON.parse(l).network_flow.destination.ip)).toEqual(['8.8.8.8']);
    const none = await runCli(['observe', '--file', f, '--last', '0']);
    expect(none.stdout).toBe('');
    const stdin = await runCli(['observe', '--file', '-', '--port', '443', '-o', 'json'], readFileSync(f, 'utf8'));
    expect(stdin.stdout.trim().split('\n').map((l) => JSON.parse(l).network_flow.destination.ip)).toEqual(['1.1.1.1']);
    const bad = await runCli(['observe', '--file', f, '--verdict', 'DROP']);
    expect([bad.code, bad.stderr]).toEqual([2, 'palisade: --verdict: unknown verdict "DROP" (did you mean "DROPPED"?)\n']);
  });
});
