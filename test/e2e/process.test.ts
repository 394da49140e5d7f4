// The process sensor end to end: real BPF programs in this kernel, real processes, the real agent.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, execOf, exitOf, runCli, startAgent, type Ev, type RunningAgent } from '../helpers/agent.js';

let agent: RunningAgent;
let work: string;

beforeAll(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'pal-proc-')));
  agent = await startAgent(['--enable-process-cred', '--enable-process-ns']);
});

afterAll(async () => {
  if (agent) await agent.stop();
  cleanup(agent);
  rmSync(work, { recursive: true, force: true });
});

const byMarker = (evs: Ev[], marker: string, kind: 'exec' | 'exit') =>
  evs.filter((e) => (kind === 'exec' ? execOf(e) : exitOf(e))?.arguments?.includes(marker));

describe('process_exec and process_exit', () => {
  it('reports a known binary with its args, cwd, credentials and parent, and its exit code', async () => {
    const bin = join(work, 'pal-known-sh');
    copyFileSync('/usr/bin/dash', bin);
    execFileSync('chmod', ['755', bin]);
    const marker = `known-${process.pid}`;
    const r = spawnSync(bin, ['-c', 'exit 7', marker, 'two words'], { cwd: work });
    expect(r.status).toBe(7);

    const evs = await agent.waitFor((e) => byMarker(e, marker, 'exit').length > 0, 15_000, 'the known exit');
    const execs = byMarker(evs, marker, 'exec');
    expect(execs).toHaveLength(1);
    const ev = execs[0]!.process_exec;
    expect(ev.process).toMatchObject({
      binary: bin,
      arguments: `-c "exit 7" ${marker} "two words"`,
      cwd: work,
      uid: 0,
      flags: 'execve',
      ppid: process.pid,
      process_credentials: { uid: 0, gid: 0, euid: 0, egid: 0 },
    });
    expect(ev.process.cap.effective).toContain('CAP_SYS_ADMIN');
    expect(ev.process.cgroup.path).toMatch(/^\//);
    expect(Number(ev.process.cgroup.id)).toBeGreaterThan(0);
    expect(ev.process.ns.pid.is_host).toBe(true);
    expect(ev.process.start_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // Its parent is this test process, known to the agent from /proc or from its own exec.
    expect(ev.parent.pid).toBe(process.pid);
    expect(ev.process.parent_exec_id).toBe(ev.parent.exec_id);

    const exit = byMarker(evs, marker, 'exit')[0]!.process_exit;
    expect(exit.process.exec_id).toBe(ev.process.exec_id);
    expect(exit.status).toBe(7);
    expect(exit.signal).toBeUndefined();
  });

  it('reports the signal that killed a process', async () => {
    const marker = `killed-${process.pid}`;
    const r = spawnSync('/bin/sh', ['-c', 'kill -KILL $$', marker]);
    expect(r.signal).toBe('SIGKILL');
    const evs = await agent.waitFor((e) => byMarker(e, marker, 'exit').length > 0, 15_000, 'the killed exit');
    expect(byMarker(evs, marker, 'exit')[0]!.process_exit).toMatchObject({ signal: 'SIGKILL', status: 0 });
  });

  it('shows the full ancestry of bash → sh → /bin/true', async () => {
    const marker = `chain-${process.pid}`;
    execFileSync('/bin/bash', ['-c', `/bin/sh -c "/bin/true ${marker}; exit 0"; exit 0`]);
    const evs = await agent.waitFor((e) => byMarker(e, marker, 'exec').some((x) => execOf(x).binary === '/usr/bin/true'), 15_000, 'the chain');
    const tru = byMarker(evs, marker, 'exec').find((x) => execOf(x).binary === '/usr/bin/true')!.process_exec;
    expect(tru.parent.binary).toBe('/usr/bin/dash'); // /bin/sh is dash on Debian
    expect(tru.parent.arguments).toContain(marker);
    expect(tru.ancestors[0].binary).toBe('/usr/bin/bash');
    expect(tru.ancestors[1].pid).toBe(process.pid);
    // The chain links by exec_id all the way.
    expect(tru.process.parent_exec_id).toBe(tru.parent.exec_id);
    expect(tru.parent.parent_exec_id).toBe(tru.ancestors[0].exec_id);
    expect(tru.ancestors[0].parent_exec_id).toBe(tru.ancestors[1].exec_id);
  });

  it('serves status and a filtered event stream over the local socket', async () => {
    const status = await runCli(['status', '--socket', agent.socket, '-o', 'json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.programs).toEqual(['pal_exec', 'pal_fork', 'pal_exit']);
    expect(s.events.received).toBeGreaterThan(0);
    expect(s.events.exported).toBeGreaterThan(0);
    expect(s.events.lost).toBe(0);
    // The memory it reports is the agent's own: its resident set as the kernel counts it.
    const vmRss = 1024 * Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]);
    expect(s.memory.rss).toBeGreaterThan(0.75 * vmRss);
    expect(s.memory.rss).toBeLessThan(1.25 * vmRss);
    expect(s.memory.heap_used).toBeGreaterThan(0);
    expect(s.memory.heap_used).toBeLessThanOrEqual(s.memory.heap_total);

    const text = await runCli(['status', '--socket', agent.socket]);
    expect(text.stdout).toMatch(/events: +received \d+, decoded \d+, exported \d+/);
    expect(text.stdout).toMatch(/memory: +rss [\d.]+ MB, heap [\d.]+ MB of [\d.]+ MB, buffers [\d.]+ MB/);

    // Stream: start a reader, run a marked process, read its compact lines.
    const { spawn } = await import('node:child_process');
    const reader = spawn(join(import.meta.dirname, '../../bin/palisade'), ['events', '--socket', agent.socket, '--binary', 'true', '-o', 'compact']);
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Only what happens after the reader subscribed reaches it: wait until the agent counts it
    // (the status request's own connection is the other client).
    const subscribed = Date.now() + 10_000;
    while (Date.now() < subscribed) {
      const st = JSON.parse((await runCli(['status', '-o', 'json', '--socket', agent.socket])).stdout) as { clients: number };
      if (st.clients >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const marker = `stream-${process.pid}`;
    execFileSync('/bin/true', [marker]);
    execFileSync('/bin/echo', [marker]);
    const end = Date.now() + 10_000;
    while (!out.includes('💥 exit') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    reader.kill();
    expect(out).toContain(`🚀 process [`);
    expect(out).toMatch(new RegExp(`/usr/bin/true ${marker}\\n`));
    expect(out).toMatch(new RegExp(`💥 exit    \\[\\d+\\] /usr/bin/true ${marker} 0`));
    expect(out).not.toContain('echo');
  });
});
