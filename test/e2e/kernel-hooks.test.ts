// The hook kinds this development kernel lacks (kprobes, kretprobes, the fentry fallback, BPF LSM
// with Override), end to end: real policies, real processes, events read from the agent's export.
// `npm run test:vm` runs this file in qemu on Debian's cloud kernel, which has them all (test/vm,
// docs/vm.md); on a kernel without them each block is skipped and prints the probe's reason.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask } from '../../agent/cli/status.js';
import { cleanup, runCli, startAgent, type Ev, type RunningAgent } from '../helpers/agent.js';
import { features, needs } from '../helpers/features.js';
import { hookEvents, tracingPolicy as policy } from '../helpers/tracing.js';

// Under TCG every node start (agent, CLI) takes seconds: wait generously, fail clearly.
const EVENT_WAIT_MS = 60_000;

let work: string;
let seq = 0;

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'pal-kh-')));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** An agent for one describe block, started only where the block's features exist. */
function agentFor(reason: string | undefined, env: Record<string, string> = {}): () => RunningAgent {
  let agent: RunningAgent | undefined;
  beforeAll(async () => {
    if (!reason) agent = await startAgent([], { env });
  });
  afterAll(async () => {
    if (agent) await agent.stop();
    cleanup(agent);
  });
  return () => agent!;
}

/**
 * Adds a policy through the agent's local API, sending what `palisade policy add` sends: under TCG a
 * CLI start costs 3-8 s, so only the first test goes through the CLI itself. `error`: '' when added.
 */
async function addPolicy(agent: RunningAgent, yaml: string): Promise<{ added: string[]; error: string }> {
  const file = join(work, `policy-${seq++}.yaml`);
  writeFileSync(file, yaml);
  const r = JSON.parse(await ask(agent.socket, { op: 'policy_add', file, text: yaml })) as { added?: string[]; errors?: string[]; error?: string };
  return { added: r.added ?? [], error: [r.error ?? '', ...(r.errors ?? [])].filter((e) => e !== '').join('\n') };
}

async function deletePolicy(agent: RunningAgent, name: string): Promise<void> {
  const r = JSON.parse(await ask(agent.socket, { op: 'policy_delete', name })) as { error?: string };
  expect(r.error).toBeUndefined();
}


async function eventsOf(agent: RunningAgent, name: string, n = 1): Promise<Ev[]> {
  const evs = await agent.waitFor((e) => hookEvents(e, name).length >= n, EVENT_WAIT_MS, `${name} events`);
  return hookEvents(evs, name);
}

/**
 * A private copy of the program `name` resolves to, so matchBinaries can single it out. It runs
 * with argv[0] = name, so a busybox copy (the VM's tools) runs that applet.
 */
function tool(name: string): { path: string; run(args: string[]): SpawnSyncReturns<string> } {
  // Searched here, not with `command -v`: busybox's shell answers an applet's bare name.
  const found = (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => join(d, name)).find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not found in PATH`);
  const real = realpathSync(found);
  const path = join(work, `pal-${name}-${seq++}`);
  copyFileSync(real, path);
  execFileSync('chmod', ['755', path]);
  return { path, run: (args) => spawnSync(path, args, { argv0: name, encoding: 'utf8' }) };
}

/** The functions with a kprobe registered (debugfs: test/vm/init mounts it, so the list must be there). */
function registeredKprobes(): string {
  const list = '/sys/kernel/debug/kprobes/list';
  expect(existsSync(list), `${list} (debugfs) must be readable to tell kprobes from fentry`).toBe(true);
  return readFileSync(list, 'utf8');
}

/** A kprobe on do_unlinkat with its int dfd argument; `selectors` is the YAML of its selectors list. */
const unlinkPolicy = (name: string, selectors: string): string => policy(name, `  kprobes:
  - call: do_unlinkat
    syscall: false
    args:
    - index: 0
      type: int
    selectors:
${selectors}`);

/**
 * A return probe on do_unlinkat for this process, selected on the return value: an unlink that
 * succeeds posts nothing, one that fails with ENOENT posts the entry args and Tetragon's
 * `"return": {"int_arg": -2}`. The caller deletes the policy.
 */
async function returnProbe(agent: RunningAgent, name: string): Promise<void> {
  const r = await addPolicy(agent, policy(name, `  kprobes:
  - call: do_unlinkat
    syscall: false
    return: true
    args:
    - index: 0
      type: int
    returnArg:
      index: 0
      type: int
    selectors:
    - matchPIDs:
      - operator: In
        values: [${process.pid}]
      matchReturnArgs:
      - index: 0
        operator: Equal
        values: ["-2"]
`));
  expect(r.error).toBe('');
  const existing = join(work, `${name}-exists`);
  writeFileSync(existing, '');
  unlinkSync(existing); // returns 0: filtered out in the kernel
  expect(() => unlinkSync(join(work, `${name}-missing`))).toThrow(/ENOENT/);
  const evs = await eventsOf(agent, name);
  await new Promise((res) => setTimeout(res, 500));
  expect(hookEvents(agent.events(), name)).toHaveLength(1);
  console.log(`return probe event (${name}): ${JSON.stringify(evs[0])}`);
  expect(evs[0]).toMatchObject({ function_name: 'do_unlinkat', args: [{ int_arg: -100 }], return: { int_arg: -2 }, process: { pid: process.pid } });
}

describe('palisade probe', () => {
  it('prints what this kernel supports; its text agrees with the probe on kprobe, fentry and lsm', async () => {
    const text = await runCli(['probe']);
    // Part of the proof: the log of a VM run shows what the guest kernel offered.
    console.log(`palisade probe on ${features().kernelRelease}:\n${text.stdout}`);
    expect(text.code).toBe(0);
    const json = features(); // the same probe, run in this process
    for (const kind of ['kprobe', 'fentry', 'lsm']) {
      const line = text.stdout.slice(text.stdout.indexOf('\nAttach\n')).split('\n').find((l) => l.trim().startsWith(`${kind} `));
      expect(line, `${kind} line`).toBeDefined();
      expect(line!.trim().slice(kind.length).trim().startsWith('yes')).toBe(json.attach[kind]!.ok);
    }
  });
});

describe('kprobes', () => {
  const reason = needs('kprobe');
  const agent = agentFor(reason);

  it('security_file_permission: a process_kprobe event with the decoded int arg and the full process', async () => {
    const cat = tool('cat');
    const file = join(work, 'read-me');
    writeFileSync(file, 'hello\n');
    const file0 = join(work, 'kp-perm.yaml');
    writeFileSync(file0, policy('kp-perm', `  kprobes:
  - call: security_file_permission
    syscall: false
    message: "read by a watched cat"
    tags: ["vm"]
    args:
    - index: 1
      type: int
    selectors:
    - matchArgs:
      - index: 1
        operator: Equal
        values: ["4"]
      matchBinaries:
      - operator: In
        values: ["${cat.path}"]
`));
    const r = await runCli(['policy', 'add', file0, '--socket', agent().socket]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('added kp-perm');
    expect(registeredKprobes()).toContain('security_file_permission');
    const run = cat.run([file]);
    expect(run.stdout).toBe('hello\n');
    const [ev] = await eventsOf(agent(), 'kp-perm');
    console.log(`kprobe event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({
      function_name: 'security_file_permission', action: 'KPROBE_ACTION_POST', message: 'read by a watched cat', tags: ['vm'],
      args: [{ int_arg: 4 }], // MAY_READ
      process: { binary: cat.path, arguments: file },
      parent: { pid: process.pid },
    });
    expect(ev!.process.pid).toBeGreaterThan(0);
    await deletePolicy(agent(), 'kp-perm');
  });

  it('do_unlinkat: the int dfd arg is AT_FDCWD, only for the watched binary', async () => {
    const rm = tool('rm');
    const r = await addPolicy(agent(), unlinkPolicy('kp-unlink', `    - matchArgs:
      - index: 0
        operator: Equal
        values: ["-100"]
      matchBinaries:
      - operator: In
        values: ["${rm.path}"]
`));
    expect(r.error).toBe('');
    const other = join(work, 'unlinked-by-node');
    writeFileSync(other, '');
    unlinkSync(other); // same function, another binary: no event
    const target = join(work, 'unlink-me');
    writeFileSync(target, '');
    expect(rm.run([target]).status).toBe(0);
    const evs = await eventsOf(agent(), 'kp-unlink');
    await new Promise((res) => setTimeout(res, 500));
    expect(hookEvents(agent().events(), 'kp-unlink')).toHaveLength(1);
    console.log(`kprobe event: ${JSON.stringify(evs[0])}`);
    expect(evs[0]).toMatchObject({ function_name: 'do_unlinkat', args: [{ int_arg: -100 }], process: { binary: rm.path, arguments: target } });
    await deletePolicy(agent(), 'kp-unlink');
  });

  it('security_sb_mount: string args are read from kernel memory (a tmpfs mount)', async () => {
    const dev = `pal-dev-${process.pid}`;
    const dir = join(work, 'mnt');
    execFileSync('mkdir', ['-p', dir]);
    const r = await addPolicy(agent(), policy('kp-mount', `  kprobes:
  - call: security_sb_mount
    syscall: false
    args:
    - index: 0
      type: string
    - index: 2
      type: string
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["${dev}"]
`));
    expect(r.error).toBe('');
    execFileSync('mount', ['-t', 'tmpfs', dev, dir]);
    execFileSync('umount', [dir]);
    const [ev] = await eventsOf(agent(), 'kp-mount');
    console.log(`kprobe event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ function_name: 'security_sb_mount', args: [{ string_arg: dev }, { string_arg: 'tmpfs' }] });
    await deletePolicy(agent(), 'kp-mount');
  });

  it('tcp_connect over loopback: one event for the connecting process', async () => {
    // The struct sock pointer read as a plain uint64 (the next test decodes it as `sock`).
    const r = await addPolicy(agent(), policy('kp-connect', `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: uint64
    selectors:
    - matchPIDs:
      - operator: In
        values: [${process.pid}]
`));
    expect(r.error).toBe('');
    const server = createServer((s) => s.end());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((res, rej) => {
      const c = connect(port, '127.0.0.1', () => c.end());
      c.on('close', () => res());
      c.on('error', rej);
    });
    server.close();
    const [ev] = await eventsOf(agent(), 'kp-connect');
    console.log(`kprobe event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ function_name: 'tcp_connect', process: { pid: process.pid, binary: process.execPath } });
    expect(BigInt(ev!.args[0].ulong_arg as string)).toBeGreaterThan(0n);
    await deletePolicy(agent(), 'kp-connect');
  });

  it('tcp_connect with a sock arg: addresses and ports decoded, DPort filtered in the kernel', async () => {
    const server = createServer((c) => c.end());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await addPolicy(agent(), policy('kp-sock', `  kprobes:
  - call: tcp_connect
    syscall: false
    args:
    - index: 0
      type: sock
    selectors:
    - matchArgs:
      - index: 0
        operator: DPort
        values: ["${port}"]
`));
      expect(r.error).toBe('');
      const connectTo = (p: number): Promise<void> =>
        new Promise<void>((res, rej) => {
          const c = connect(p, '127.0.0.1', () => c.end());
          c.on('close', () => res());
          c.on('error', rej);
        });
      // a connection to another port first: DPort must keep it out in the kernel
      const other = createServer((c) => c.end());
      await new Promise<void>((res) => other.listen(0, '127.0.0.1', res));
      await connectTo((other.address() as { port: number }).port);
      other.close();
      await connectTo(port);
      const [ev] = await eventsOf(agent(), 'kp-sock');
      await new Promise((res) => setTimeout(res, 500));
      expect(hookEvents(agent().events(), 'kp-sock').map((e: Ev) => e.args[0].sock_arg.dport)).toEqual([port]);
      console.log(`kprobe sock event: ${JSON.stringify(ev)}`);
      expect(ev).toMatchObject({ function_name: 'tcp_connect', process: { pid: process.pid } });
      // tcp_connect runs before the handshake: the source port is already bound, the state is SYN_SENT.
      expect(ev!.args[0].sock_arg).toMatchObject({
        family: 'AF_INET', type: 'SOCK_STREAM', protocol: 'IPPROTO_TCP', saddr: '127.0.0.1', daddr: '127.0.0.1', dport: port,
      });
      await deletePolicy(agent(), 'kp-sock');
    } finally {
      server.close();
    }
  });

  it('commit_creds with a cred arg: the new credentials and capabilities are decoded', async () => {
    const r = await addPolicy(agent(), policy('kp-cred', `  kprobes:
  - call: commit_creds
    syscall: false
    args:
    - index: 0
      type: cred
`));
    expect(r.error).toBe('');
    const child = spawnSync(process.execPath, ['-e', 'process.setgid(4321); process.setuid(1234)']);
    expect(child.status).toBe(0);
    const setuid = (x: Ev): boolean => x.process?.pid === child.pid && x.args[0].process_credentials_arg.uid === 1234;
    const evs = await agent().waitFor((e) => hookEvents(e, 'kp-cred').some(setuid), EVENT_WAIT_MS, 'commit_creds of the child');
    const ev = hookEvents(evs, 'kp-cred').find(setuid)!;
    console.log(`kprobe cred event: ${JSON.stringify(ev.args)}`);
    expect(ev.args[0].process_credentials_arg).toMatchObject({ uid: 1234, euid: 1234, gid: 4321, egid: 4321, caps: { effective: [] } });
    await deletePolicy(agent(), 'kp-cred');
  });

  it('Sigkill from a kprobe kills the process; the unlink itself completes', async () => {
    const rm = tool('rm');
    const r = await addPolicy(agent(), unlinkPolicy('kp-kill', `    - matchBinaries:
      - operator: In
        values: ["${rm.path}"]
      matchActions:
      - action: Sigkill
`));
    expect(r.error).toBe('');
    const target = join(work, 'kill-on-unlink');
    writeFileSync(target, '');
    const run = rm.run([target]);
    expect(run.signal).toBe('SIGKILL');
    expect(existsSync(target)).toBe(false); // the signal acts on return to user space
    const [ev] = await eventsOf(agent(), 'kp-kill');
    console.log(`kprobe Sigkill event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ function_name: 'do_unlinkat', action: 'KPROBE_ACTION_SIGKILL', enforced: true, process: { binary: rm.path } });
    await deletePolicy(agent(), 'kp-kill');
  });

  // Both found by this suite: a syscall kprobe read the wrapper's pt_regs pointer as its first
  // argument, and Override on a kprobe was accepted though nothing overrode the call.
  it('a syscall kprobe (syscall: true) reads the syscall\'s arguments, not the __x64_sys_ wrapper\'s pt_regs pointer', async () => {
    const r = await addPolicy(agent(), policy('kp-sys', `  kprobes:
  - call: sys_unlink
    args:
    - index: 0
      type: string
    selectors:
    - matchPIDs:
      - operator: In
        values: [${process.pid}]
`));
    try {
      expect(r.error).toBe('');
      const file = join(work, 'sys-unlink');
      writeFileSync(file, '');
      unlinkSync(file);
      const [ev] = await eventsOf(agent(), 'kp-sys');
      console.log(`syscall kprobe event: ${JSON.stringify(ev?.args)}`);
      expect(ev).toMatchObject({ function_name: '__x64_sys_unlink', args: [{ string_arg: file }] });
    } finally {
      await deletePolicy(agent(), 'kp-sys');
    }
  });

  it('Override on a kprobe is refused with the reason, never reported as enforced while the call goes through', async () => {
    const r = await addPolicy(agent(), unlinkPolicy('kp-override', `    - matchActions:
      - action: Override
        argError: -1
`));
    console.log(`kprobe Override: ${r.error}`);
    expect(r.error).toMatch(/Override on a kprobe is not supported by Palisade: .*lsmhook/);
  });

  it('kretprobe: returnArg and matchReturnArgs post only calls that returned -ENOENT', async () => {
    await returnProbe(agent(), 'kp-ret');
    expect(registeredKprobes()).toContain('do_unlinkat');
    await deletePolicy(agent(), 'kp-ret');
  });
});

describe('kprobe policies on the fentry fallback (PALISADE_DISABLE_ATTACH=kprobe)', () => {
  const reason = needs('fentry');
  const agent = agentFor(reason, { PALISADE_DISABLE_ATTACH: 'kprobe' });

  it('attaches do_unlinkat with fentry (no kprobe registered) and posts the same process_kprobe event', async () => {
    expect(agent().stderr()).toContain('disabled by PALISADE_DISABLE_ATTACH');
    const rm = tool('rm');
    const r = await addPolicy(agent(), unlinkPolicy('fe-unlink', `    - matchBinaries:
      - operator: In
        values: ["${rm.path}"]
`));
    expect(r.error).toBe('');
    expect(registeredKprobes()).not.toContain('do_unlinkat');
    const target = join(work, 'fentry-unlink');
    writeFileSync(target, '');
    expect(rm.run([target]).status).toBe(0);
    const [ev] = await eventsOf(agent(), 'fe-unlink');
    console.log(`fentry event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ function_name: 'do_unlinkat', args: [{ int_arg: -100 }], process: { binary: rm.path, arguments: target } });
    await deletePolicy(agent(), 'fe-unlink');
  });

  it('a return probe takes fexit there: same events, still no kprobe', async () => {
    await returnProbe(agent(), 'fe-ret');
    expect(registeredKprobes()).not.toContain('do_unlinkat');
    await deletePolicy(agent(), 'fe-ret');
  });

  it('refuses a syscall kprobe there, saying why', async () => {
    const r = await addPolicy(agent(), policy('fe-syscall', `  kprobes:
  - call: sys_unlinkat
    syscall: true
`));
    expect(r.error).toContain('disabled by PALISADE_DISABLE_ATTACH');
    expect(r.error).toContain('use a syscalls tracepoint');
  });
});

describe('lsmhooks with Override', () => {
  const reason = needs('lsm');
  const agent = agentFor(reason);
  const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : undefined;

  it('file_open: the watched program gets EPERM, the file stays intact, others still read it', async (ctx) => {
    // No arg selects on a file yet (type file is not decoded): the selector is the binary, so it must
    // be static (a dynamic one could not even open its libraries).
    if (!busybox) ctx.skip('needs a static /bin/busybox');
    const bb = join(work, `pal-busybox-${seq++}`);
    copyFileSync(busybox!, bb);
    execFileSync('chmod', ['755', bb]);
    const secret = join(work, 'secret');
    writeFileSync(secret, 'original\n');
    const r = await addPolicy(agent(), policy('lsm-open', `  lsmhooks:
  - hook: file_open
    selectors:
    - matchBinaries:
      - operator: In
        values: ["${bb}"]
      matchActions:
      - action: Override
        argError: -1
`));
    expect(r.error).toBe('');
    const read = spawnSync(bb, [secret], { argv0: 'cat', encoding: 'utf8' });
    expect(read.status).not.toBe(0);
    expect(read.stderr).toContain('Operation not permitted');
    const write = spawnSync(bb, ['-c', `echo overwritten > ${secret}`], { argv0: 'sh', encoding: 'utf8' });
    expect(write.status).not.toBe(0);
    expect(write.stderr).toContain('Operation not permitted');
    expect(readFileSync(secret, 'utf8')).toBe('original\n');
    expect(spawnSync(busybox!, [secret], { argv0: 'cat', encoding: 'utf8' }).stdout).toBe('original\n');
    const evs = await eventsOf(agent(), 'lsm-open', 2);
    console.log(`lsm event: ${JSON.stringify(evs[0])}`);
    expect(evs[0]).toMatchObject({ function_name: 'file_open', action: 'KPROBE_ACTION_OVERRIDE', enforced: true, process: { binary: bb } });
    await deletePolicy(agent(), 'lsm-open');
    expect(spawnSync(bb, [secret], { argv0: 'cat', encoding: 'utf8' }).stdout).toBe('original\n'); // detached
  });

  it('file_open with a file arg: every open of the protected path fails with EPERM; the content is intact', async () => {
    const secret = join(work, 'protected');
    const other = join(work, 'unprotected');
    writeFileSync(secret, 'original\n');
    writeFileSync(other, 'other\n');
    const r = await addPolicy(agent(), policy('lsm-path', `  lsmhooks:
  - hook: file_open
    args:
    - index: 0
      type: file
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["${secret}"]
      matchActions:
      - action: Override
        argError: -1
`));
    expect(r.error).toBe('');
    try {
      expect(() => readFileSync(secret, 'utf8')).toThrow(/EPERM/);
      expect(() => writeFileSync(secret, 'overwritten\n')).toThrow(/EPERM/);
      const cat = spawnSync('cat', [secret], { encoding: 'utf8' });
      expect(cat.status).not.toBe(0);
      expect(cat.stderr).toContain('Operation not permitted');
      expect(readFileSync(other, 'utf8')).toBe('other\n');
      const evs = await eventsOf(agent(), 'lsm-path', 3);
      console.log(`lsm file event: ${JSON.stringify(evs[0])}`);
      expect(evs[0]).toMatchObject({ function_name: 'file_open', args: [{ file_arg: { path: secret } }], action: 'KPROBE_ACTION_OVERRIDE', enforced: true });
    } finally {
      await deletePolicy(agent(), 'lsm-path');
    }
    expect(readFileSync(secret, 'utf8')).toBe('original\n');
  });

  it('bprm_check_security: the watched shell cannot run a program; another shell can', async () => {
    const sh = tool('dash');
    const r = await addPolicy(agent(), policy('lsm-exec', `  lsmhooks:
  - hook: bprm_check_security
    selectors:
    - matchBinaries:
      - operator: In
        values: ["${sh.path}"]
      matchActions:
      - action: Override
        argError: -1
`));
    expect(r.error).toBe('');
    const denied = sh.run(['-c', '/bin/true']);
    expect(denied.status).toBe(126);
    expect(denied.stderr).toContain('not permitted');
    expect(spawnSync('/bin/true').status).toBe(0);
    const [ev] = await eventsOf(agent(), 'lsm-exec');
    console.log(`lsm event: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ function_name: 'bprm_check_security', action: 'KPROBE_ACTION_OVERRIDE', enforced: true, process: { binary: sh.path } });
    await deletePolicy(agent(), 'lsm-exec');
    expect(sh.run(['-c', '/bin/true']).status).toBe(0);
  });
});
