// The policy library (policies/*.yaml) end to end: every policy loaded into one real agent,
// triggered by real processes on this kernel, and checked event by event; plus what must NOT
// trigger it. Network traffic stays on loopback. kill-on-match is loaded only for its own test
// (it kills any binary under /tmp/ that connects, host-wide) and deleted right after.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { cleanup, exitOf, ROOT, rotatedFiles, runCli, startAgent, type Ev, type RunningAgent } from '../helpers/agent.js';

const LIB = join(ROOT, 'policies');
const DEFAULT = join(LIB, 'default');
const LIBRARY = ['bpf-use', 'file-integrity', 'kernel-modules', 'kill-on-match', 'outbound-connections', 'privilege-changes', 'sensitive-reads'];
/** Loaded at agent start; kill-on-match is added by its own test only. */
const AT_START = LIBRARY.filter((n) => n !== 'kill-on-match');

let agent: RunningAgent;
let work: string;
let http4: Server;
let http6: Server | undefined;
let httpUnix: Server;
let port4 = 0;
let port6 = 0;
let unixSock = '';
/** Connections the IPv4 server accepted. */
let accepted4 = 0;

interface Run {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Runs a process to completion without blocking the event loop (our HTTP servers answer meanwhile). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((res) => {
    const p = execFile(cmd, args, { env, timeout: 15_000 }, (err, stdout) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      res({ pid: p.pid!, code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? p.signalCode ?? null, stdout });
    });
  });
}

type Detail = Record<string, any>;
/** process_tracepoint events of a policy, optionally of one pid. */
const hits = (evs: Ev[], policy: string, pid?: number): Detail[] =>
  evs.map((e) => e.process_tracepoint as Detail | undefined)
    .filter((d): d is Detail => d?.policy_name === policy && (pid === undefined || d.process.pid === pid));

/**
 * The exported events, complete lines only: the agent may be halfway through writing the last
 * line, which agent.events() would fail to parse.
 */
function events(): Ev[] {
  const out: Ev[] = [];
  for (const f of rotatedFiles(agent.file)) {
    const text = readFileSync(f, 'utf8');
    for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) if (l !== '') out.push(JSON.parse(l) as Ev);
  }
  return out;
}

async function waitFor(pred: (evs: Ev[]) => boolean, timeoutMs: number, what: string): Promise<Ev[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const evs = events();
    if (pred(evs)) return evs;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent stderr:\n${agent.stderr().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitHits(policy: string, pid: number, n: number, what: string): Promise<Detail[]> {
  const evs = await waitFor((e) => hits(e, policy, pid).length >= n, 15_000, `${n} ${policy} event(s) of ${what}`);
  return hits(evs, policy, pid);
}

/** Every event so far, once the exit of pid is exported: its hook events, earlier in the ring, are in. */
async function exited(pid: number): Promise<Ev[]> {
  return waitFor((e) => e.some((x) => exitOf(x)?.pid === pid), 15_000, `the exit of ${pid}`);
}

/** The stable part of an event: hook, args, action and policy. */
const core = (d: Detail) => ({ binary: d.process.binary, event: d.event, args: d.args, action: d.action });

function listen(server: Server, ...at: [number, string] | [string]): Promise<void> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(...(at as [number, string]), () => res());
  });
}

beforeAll(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'pal-lib-')));
  // The library minus kill-on-match, as an agent policy directory (symlinks are followed).
  const dir = join(work, 'policies');
  mkdirSync(dir);
  for (const n of AT_START) symlinkSync(join(LIB, `${n}.yaml`), join(dir, `${n}.yaml`));

  const answer = (_req: unknown, res: ServerResponse) => res.end('ok\n');
  http4 = createServer(answer);
  http4.on('connection', (s: Socket) => {
    accepted4++;
    s.on('error', () => {});
  });
  await listen(http4, 0, '127.0.0.1');
  port4 = (http4.address() as AddressInfo).port;
  try {
    const s = createServer(answer);
    await listen(s, 0, '::1');
    http6 = s;
    port6 = (s.address() as AddressInfo).port;
  } catch {
    http6 = undefined; // no IPv6 loopback: that case is skipped
  }
  unixSock = join(work, 'http.sock');
  httpUnix = createServer(answer);
  await listen(httpUnix, unixSock);

  agent = await startAgent(['--policy-dir', dir]);
});

afterAll(async () => {
  if (agent) {
    await runCli(['policy', 'delete', 'kill-on-match', '--socket', agent.socket]); // in case its test failed midway
    await agent.stop();
  }
  cleanup(agent);
  for (const s of [http4, http6, httpUnix]) s?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the library files', () => {
  it('all pass `palisade policy validate`, the default set included', async () => {
    const r = await runCli(['policy', 'validate', LIB, DEFAULT]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = readdirSync(LIB).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(LIBRARY.map((n) => `${n}.yaml`));
    expect(r.stdout).toMatch(new RegExp(`${files.length + readdirSync(DEFAULT).length} files valid`));
  });

  it('each has its name, a header comment, and a message and tags on every hook', () => {
    for (const n of LIBRARY) {
      const text = readFileSync(join(LIB, `${n}.yaml`), 'utf8');
      expect(text.startsWith(`# ${n}: `), n).toBe(true);
      const docs = parseAllDocuments(text).map((d) => d.toJS() as Detail);
      expect(docs).toHaveLength(1);
      const p = docs[0]!;
      expect(p).toMatchObject({ apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: n } });
      // This kernel has neither kprobes nor LSM hooks: tracepoints only.
      expect(Object.keys(p.spec).filter((k) => ['kprobes', 'lsmhooks', 'uprobes'].includes(k)), n).toEqual([]);
      for (const h of p.spec.tracepoints as Detail[]) {
        expect(h.message, `${n} ${h.event}`).toMatch(/\w/);
        expect(h.tags.length, `${n} ${h.event}`).toBeGreaterThan(0);
        expect(h.tags.some((t: string) => t.startsWith('mitre.T')), `${n} ${h.event}`).toBe(true);
      }
    }
  });

  it('the default set is library files, observability only', () => {
    const files = readdirSync(DEFAULT).sort();
    expect(files).toEqual(['privilege-changes.yaml', 'sensitive-reads.yaml']);
    for (const f of files) {
      const path = join(DEFAULT, f);
      // A symlink to the library file of the same name: the two can't drift apart.
      expect(lstatSync(path).isSymbolicLink(), f).toBe(true);
      expect(resolve(DEFAULT, readlinkSync(path))).toBe(join(LIB, f));
      const text = readFileSync(path, 'utf8');
      expect(text).not.toMatch(/action:\s*"?(Sigkill|Signal|Override)/);
      for (const d of parseAllDocuments(text)) {
        const acts = JSON.stringify(d.toJS()).match(/"action":"(\w+)"/g) ?? [];
        expect(acts.every((a) => a === '"action":"Post"' || a === '"action":"NoPost"'), f).toBe(true);
      }
    }
  });

  it('the agent loaded every policy of the directory, none rejected', async () => {
    expect(agent.stderr()).toMatch(/"rejected":0,"msg":"tracing policies loaded"/);
    const r = await runCli(['policy', 'list', '--socket', agent.socket, '-o', 'json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ name: string; state: string; mode: string }>;
    expect(list.map((p) => p.name).sort()).toEqual(AT_START);
    expect(list.every((p) => p.state === 'enabled' && p.mode === 'enforce')).toBe(true);
  });
});

describe('file-integrity', () => {
  it('reports a write, a rename and a removal under /etc, not reads nor writes elsewhere', async () => {
    const name = `/etc/palisade-fim-${process.pid}-${Date.now()}`;
    try {
      const read = await run('/bin/cat', ['/etc/hostname']);
      const elsewhere = await run('/bin/sh', ['-c', `echo x > ${work}/not-protected`]);
      const write = await run('/bin/sh', ['-c', `echo x > ${name}`]);
      expect(write.code).toBe(0);
      const mv = await run('/bin/mv', [name, `${name}.moved`]);
      const rm = await run('/bin/rm', [`${name}.moved`]);
      expect([mv.code, rm.code]).toEqual([0, 0]);

      const [w] = await waitHits('file-integrity', write.pid, 1, 'sh > /etc/…');
      expect(core(w!)).toEqual({
        binary: '/usr/bin/dash', event: 'sys_enter_openat', action: 'KPROBE_ACTION_POST',
        args: [{ int_arg: -100 }, { string_arg: name }, { int_arg: 0o1101 }], // O_WRONLY|O_CREAT|O_TRUNC
      });
      expect(w).toMatchObject({ subsys: 'syscalls', message: 'Write access to a protected system path' });
      expect(w!.tags).toContain('mitre.T1565.001');
      const [m] = await waitHits('file-integrity', mv.pid, 1, 'mv');
      expect(core(m!)).toEqual({
        binary: '/usr/bin/mv', event: 'sys_enter_renameat2', action: 'KPROBE_ACTION_POST',
        args: [{ string_arg: name }, { string_arg: `${name}.moved` }],
      });
      const [r] = await waitHits('file-integrity', rm.pid, 1, 'rm');
      expect(core(r!)).toEqual({
        binary: '/usr/bin/rm', event: 'sys_enter_unlinkat', action: 'KPROBE_ACTION_POST',
        args: [{ int_arg: -100 }, { string_arg: `${name}.moved` }, { int_arg: 0 }],
      });

      expect(hits(await exited(read.pid), 'file-integrity', read.pid)).toEqual([]);
      expect(hits(await exited(elsewhere.pid), 'file-integrity', elsewhere.pid)).toEqual([]);
    } finally {
      rmSync(name, { force: true });
      rmSync(`${name}.moved`, { force: true });
    }
  });
});

describe('sensitive-reads', () => {
  it('reports shadow, SSH keys and cloud credentials, not public keys or ordinary files', async () => {
    const home = join(work, 'home');
    const files = {
      sshKey: join(home, '.ssh/id_ed25519'),
      sshPub: join(home, '.ssh/id_ed25519.pub'),
      aws: join(home, '.aws/credentials'),
      gcloud: join(home, '.config/gcloud/application_default_credentials.json'),
      azure: join(home, '.azure/msal_token_cache.json'),
    };
    for (const f of Object.values(files)) {
      mkdirSync(join(f, '..'), { recursive: true });
      writeFileSync(f, 'not a real secret\n');
    }
    // Does not exist: the open fails, and is reported all the same (tracepoint at syscall entry).
    const hostKey = `/etc/ssh/ssh_host_palisade${process.pid}_key`;

    const benign = await run('/bin/cat', ['/etc/hostname', files.sshPub, `${hostKey}.pub`, '/etc/passwd']);
    const secrets = await run('/bin/cat', ['/etc/shadow', files.sshKey, files.aws, files.gcloud, files.azure, hostKey], { ...process.env, HOME: home });
    expect(secrets.code).toBe(1); // the host key does not exist

    const got = await waitHits('sensitive-reads', secrets.pid, 6, 'cat of six secrets');
    expect(got.map(core)).toEqual(
      ['/etc/shadow', files.sshKey, files.aws, files.gcloud, files.azure, hostKey].map((f) => ({
        binary: '/usr/bin/cat', event: 'sys_enter_openat', action: 'KPROBE_ACTION_POST',
        args: [{ int_arg: -100 }, { string_arg: f }, { int_arg: 0 }], // O_RDONLY
      })),
    );
    expect(got[0]).toMatchObject({ subsys: 'syscalls', message: 'Sensitive credential file opened', policy_name: 'sensitive-reads' });
    expect(got[0]!.tags).toEqual(expect.arrayContaining(['mitre.T1003.008', 'mitre.T1552.004']));
    expect(hits(await exited(benign.pid), 'sensitive-reads', benign.pid)).toEqual([]);
  });
});

describe('privilege-changes', () => {
  it('reports requests for uid/gid 0 and capset, not a drop to nobody', async () => {
    // x86_64: setuid 105, setgid 106, setreuid 113, setresuid 117, setresgid 119
    const drop = await run('/usr/bin/perl', ['-e', 'syscall(105, 65534) == 0 or die "setuid: $!"']);
    expect(drop.code).toBe(0);
    const root = await run('/usr/bin/perl', ['-e',
      'sub ok { $_[0] == 0 or die "$_[1]: $!" } ok(syscall(105, 0), "setuid"); ok(syscall(106, 0), "setgid"); ' +
      'ok(syscall(113, -1, 0), "setreuid"); ok(syscall(117, 0, -1, -1), "setresuid"); ok(syscall(119, -1, -1, 0), "setresgid")']);
    expect(root.code).toBe(0);
    const caps = await run('/usr/bin/setpriv', ['--inh-caps=-all', '/bin/true']);
    expect(caps.code).toBe(0);

    const got = await waitHits('privilege-changes', root.pid, 5, 'perl setuid(0)…');
    const u = (v: number) => ({ uint_arg: v });
    const keep = 4294967295; // -1: unchanged
    expect(got.map((d) => [d.event, d.args, d.message])).toEqual([
      ['sys_enter_setuid', [u(0)], 'Process requested uid 0'],
      ['sys_enter_setgid', [u(0)], 'Process requested gid 0'],
      ['sys_enter_setreuid', [u(keep), u(0)], 'Process requested uid 0'],
      ['sys_enter_setresuid', [u(0), u(keep), u(keep)], 'Process requested uid 0'],
      ['sys_enter_setresgid', [u(keep), u(keep), u(0)], 'Process requested gid 0'],
    ]);
    expect(got.every((d) => d.process.binary === '/usr/bin/perl' && d.action === 'KPROBE_ACTION_POST')).toBe(true);
    expect(got[0]!.tags).toContain('mitre.T1548.001');

    // setpriv calls capset twice: the rate limit (1m per process) keeps the first.
    const evs = await exited(caps.pid);
    const c = hits(evs, 'privilege-changes', caps.pid);
    expect(c.map(core)).toEqual([{ binary: '/usr/bin/setpriv', event: 'sys_enter_capset', args: [], action: 'KPROBE_ACTION_POST' }]);
    expect(c[0]!.message).toBe('Process changed its capabilities');
    expect(hits(await exited(drop.pid), 'privilege-changes', drop.pid)).toEqual([]);
  });
});

describe('kernel-modules', () => {
  it('reports finit_module, delete_module and init_module (ENOSYS on this kernel), nothing else', async () => {
    const r = await run('/usr/bin/perl', ['-e', 'my ($e, $n) = ("", "palisade_test"); syscall(313, -1, $e, 0); syscall(176, $n, 0); syscall(175, 0, 0, $e); print "done"']);
    expect(r.stdout).toBe('done');
    // perl made many other syscalls (mmap, read, write…): only these three are reported.
    const got = hits(await exited(r.pid), 'kernel-modules', r.pid);
    expect(got).toHaveLength(3);
    expect(got.map((d) => d.args[0])).toEqual([{ long_arg: '313' }, { long_arg: '176' }, { long_arg: '175' }]);
    expect(got[0]!.args[1]).toEqual({ long_arg: '-1' }); // finit_module's fd
    expect(got[2]!.args[1]).toEqual({ long_arg: '0' });
    expect(got[0]).toMatchObject({
      subsys: 'raw_syscalls', event: 'sys_enter', action: 'KPROBE_ACTION_POST',
      message: 'Kernel module load or unload requested', tags: ['observability.kernel', 'mitre.T1547.006'],
    });
    expect(got[0]!.process.binary).toBe('/usr/bin/perl');
  });
});

describe('bpf-use', () => {
  it('reports bpftool’s bpf() commands, rate limited to one event per command and size', async () => {
    const r = await run('/usr/sbin/bpftool', ['prog', 'show']);
    expect(r.code).toBe(0);
    // One program or more is loaded (ours): GET_NEXT_ID runs once per program, plus the last one.
    const programs = r.stdout.split('\n').filter((l) => /^\d+: /.test(l)).length;
    expect(programs).toBeGreaterThan(3);

    const got = hits(await exited(r.pid), 'bpf-use', r.pid);
    expect(got.every((d) => d.process.binary === '/usr/sbin/bpftool' && d.event === 'sys_enter_bpf' && d.message === 'bpf() system call')).toBe(true);
    const cmds = got.map((d) => d.args[0].int_arg as number);
    expect(cmds).toContain(11); // BPF_PROG_GET_NEXT_ID
    expect(cmds).toContain(13); // BPF_PROG_GET_FD_BY_ID
    expect(cmds).toContain(15); // BPF_OBJ_GET_INFO_BY_FD
    // The rate limit: each (cmd, size) once, though bpftool called GET_NEXT_ID programs + 1 times.
    const keys = got.map((d) => JSON.stringify(d.args));
    expect(new Set(keys).size).toBe(keys.length);
    expect(got.filter((d) => d.args[0].int_arg === 11)).toHaveLength(1);
    expect(got[0]!.args[1]).toHaveProperty('uint_arg');

    const list = JSON.parse((await runCli(['policy', 'list', '--socket', agent.socket, '-o', 'json'])).stdout) as Array<{ name: string; counts: Record<string, number> }>;
    expect(list.find((p) => p.name === 'bpf-use')!.counts.rate_limited).toBeGreaterThan(programs);
  });
});

describe('outbound-connections', () => {
  const noProxy = { ...process.env, http_proxy: '', https_proxy: '', HTTP_PROXY: '', HTTPS_PROXY: '', ALL_PROXY: '', all_proxy: '' };
  const inet = (addr: string, port: number) => ({ sockaddr_arg: { family: addr.includes(':') ? 'AF_INET6' : 'AF_INET', addr, port } });

  it('reports curl, bash /dev/tcp and python connecting, with the address decoded', async () => {
    const curl = await run('/usr/bin/curl', ['-sS', '--noproxy', '*', `http://127.0.0.1:${port4}/`], noProxy);
    expect([curl.code, curl.stdout]).toEqual([0, 'ok\n']);
    const bash = await run('/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port4}`]);
    expect(bash.code).toBe(0);
    const py = await run('/usr/bin/python3', ['-c', `import socket; socket.create_connection(("127.0.0.1", ${port4})).close()`]);
    expect(py.code).toBe(0);

    const [c] = await waitHits('outbound-connections', curl.pid, 1, 'curl');
    expect(c!.args).toHaveLength(3);
    expect(c!.args[0]).toHaveProperty('int_arg'); // the socket's fd
    expect(core(c!)).toEqual({
      binary: '/usr/bin/curl', event: 'sys_enter_connect', action: 'KPROBE_ACTION_POST',
      args: [c!.args[0], inet('127.0.0.1', port4), { int_arg: 16 }],
    });
    expect(c).toMatchObject({ subsys: 'syscalls', message: 'Outbound connection by a network tool or interpreter' });
    expect(c!.tags).toContain('mitre.T1105');
    const [b] = await waitHits('outbound-connections', bash.pid, 1, 'bash /dev/tcp');
    expect(core(b!)).toEqual({ binary: '/usr/bin/bash', event: 'sys_enter_connect', action: 'KPROBE_ACTION_POST', args: [b!.args[0], inet('127.0.0.1', port4), { int_arg: 16 }] });
    const [p] = await waitHits('outbound-connections', py.pid, 1, 'python3');
    expect(p!.process.binary).toMatch(/^\/usr\/bin\/python3\.\d+$/); // the Prefix selector
    expect(p!.args[1]).toEqual(inet('127.0.0.1', port4));
  });

  it('decodes IPv6 destinations', async (ctx) => {
    if (!http6) return ctx.skip('no IPv6 loopback');
    const curl = await run('/usr/bin/curl', ['-sS', '--noproxy', '*', `http://[::1]:${port6}/`], noProxy);
    expect(curl.code).toBe(0);
    const [c] = await waitHits('outbound-connections', curl.pid, 1, 'curl to ::1');
    expect(c!.args[1]).toEqual(inet('::1', port6));
    expect(c!.args[2]).toEqual({ int_arg: 28 });
  });

  it('leaves out AF_UNIX connects and binaries not listed', async () => {
    const unix = await run('/usr/bin/curl', ['-sS', '--unix-socket', unixSock, 'http://localhost/'], noProxy);
    expect([unix.code, unix.stdout]).toEqual([0, 'ok\n']);
    // node is not in the list: this test process connecting is not reported.
    const res = await fetch(`http://127.0.0.1:${port4}/`);
    expect(await res.text()).toBe('ok\n');
    // Once a process started after the fetch has exited, the fetch's connect would be exported.
    const marker = await run('/bin/true', []);
    const evs = await exited(marker.pid);
    expect(hits(await exited(unix.pid), 'outbound-connections', unix.pid)).toEqual([]);
    expect(hits(evs, 'outbound-connections', process.pid)).toEqual([]);
  });
});

describe('kill-on-match', () => {
  const file = join(LIB, 'kill-on-match.yaml');
  const noProxy = { ...process.env, http_proxy: '', HTTP_PROXY: '', all_proxy: '', ALL_PROXY: '' };

  it('kills a binary run from /tmp when it connects; the connect itself completes', async () => {
    const tmpCurl = join(work, 'bin', 'curl');
    mkdirSync(join(work, 'bin'));
    copyFileSync('/usr/bin/curl', tmpCurl);
    chmodSync(tmpCurl, 0o755);
    expect(tmpCurl.startsWith('/tmp/')).toBe(true);

    const add = await runCli(['policy', 'add', file, '--socket', agent.socket]);
    expect([add.code, add.stdout, add.stderr]).toEqual([0, 'added kill-on-match\n', '']);
    try {
      // Not matched: the same curl from /usr/bin, and the /tmp copy over AF_UNIX.
      const usr = await run('/usr/bin/curl', ['-sS', '--noproxy', '*', `http://127.0.0.1:${port4}/`], noProxy);
      expect([usr.code, usr.signal]).toEqual([0, null]);
      const unix = await run(tmpCurl, ['-sS', '--unix-socket', unixSock, 'http://localhost/'], noProxy);
      expect([unix.code, unix.signal, unix.stdout]).toEqual([0, null, 'ok\n']);

      const before = accepted4;
      const killed = await run(tmpCurl, ['-sS', '--noproxy', '*', `http://127.0.0.1:${port4}/`], noProxy);
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.stdout).toBe('');

      const [k] = await waitHits('kill-on-match', killed.pid, 1, 'the killed curl');
      expect(core(k!)).toEqual({
        binary: tmpCurl, event: 'sys_enter_connect', action: 'KPROBE_ACTION_SIGKILL',
        args: [k!.args[0], { sockaddr_arg: { family: 'AF_INET', addr: '127.0.0.1', port: port4 } }, { int_arg: 16 }],
      });
      expect(k).toMatchObject({ enforced: true, policy_name: 'kill-on-match', message: 'Binary run from a temporary directory connecting out: Sigkill' });
      expect(k).not.toHaveProperty('policy_mode');
      expect(k!.tags).toContain('enforcement');
      const evs = await exited(killed.pid);
      expect(evs.find((x) => exitOf(x)?.pid === killed.pid)!.process_exit.signal).toBe('SIGKILL');
      expect(hits(evs, 'kill-on-match', usr.pid)).toEqual([]);
      expect(hits(evs, 'kill-on-match', unix.pid)).toEqual([]); // exited before the killed one
      // Sigkill does not undo the syscall: on loopback the handshake completed and the server
      // accepted the connection of a process that was already dead.
      const end = Date.now() + 5000;
      while (accepted4 === before && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      expect(accepted4).toBeGreaterThan(before);

      const list = JSON.parse((await runCli(['policy', 'list', '--socket', agent.socket, '-o', 'json'])).stdout) as Array<{ name: string; counts: Record<string, number> }>;
      expect(list.find((p) => p.name === 'kill-on-match')!.counts).toMatchObject({ posted: 1, enforced: 1 });

      // Monitor mode: the same match is reported, nothing is killed.
      expect((await runCli(['policy', 'delete', 'kill-on-match', '--socket', agent.socket])).code).toBe(0);
      expect((await runCli(['policy', 'add', file, '--mode', 'monitor', '--socket', agent.socket])).code).toBe(0);
      const spared = await run(tmpCurl, ['-sS', '--noproxy', '*', `http://127.0.0.1:${port4}/`], noProxy);
      expect([spared.code, spared.signal, spared.stdout]).toEqual([0, null, 'ok\n']);
      const [m] = await waitHits('kill-on-match', spared.pid, 1, 'the spared curl');
      expect(m).toMatchObject({ action: 'KPROBE_ACTION_SIGKILL', enforced: false, policy_mode: 'monitor' });
    } finally {
      await runCli(['policy', 'delete', 'kill-on-match', '--socket', agent.socket]);
    }
  });
});
