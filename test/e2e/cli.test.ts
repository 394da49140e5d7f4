// The CLI's answers to bad input, its probe, and the agent's lifecycle (no program left behind).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, runCli, startAgent, type RunningAgent } from '../helpers/agent.js';

const dir = mkdtempSync(join(tmpdir(), 'pal-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Our programs still loaded in the kernel, by name. */
function loadedPrograms(): string[] {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as { name?: string }[];
  return list.map((p) => p.name ?? '').filter((n) => ['pal_exec', 'pal_fork', 'pal_exit'].includes(n));
}

/** Programs are freed after their last fd closes, a moment later (RCU): poll for it. */
async function settledPrograms(): Promise<string[]> {
  const end = Date.now() + 5000;
  while (loadedPrograms().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return loadedPrograms();
}

function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
}

describe('bad input', () => {
  it('unknown flag', async () => {
    expectOneLineError(await runCli(['agent', '--no-such-flag']), /unknown option '--no-such-flag'/);
  });
  it('unreadable config', async () => {
    expectOneLineError(await runCli(['agent', '--config', join(dir, 'missing.yaml')]), /missing\.yaml: cannot read config file \(ENOENT\)/);
  });
  it('config with a wrong field names file, line and field', async () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'export:\n  stdout: json\n  file:\n    max_files: many\n');
    expectOneLineError(await runCli(['agent', '--config', f]), /bad\.yaml:4:16 export\.file\.max_files: expected a whole number/);
  });
  it('missing BPF object', async () => {
    expectOneLineError(await runCli(['agent', '--bpf-dir', join(dir, 'nope'), '--socket', join(dir, 's.sock')]), /BPF object not found: .*nope\/process\.bpf\.o/);
    expect(loadedPrograms()).toEqual([]);
  });
  it('status with no agent running', async () => {
    expectOneLineError(await runCli(['status', '--socket', join(dir, 'none.sock')]), /cannot reach the agent at .*none\.sock: ENOENT \(is the agent running\?\)/);
  });
  it('events from a file with a broken line: skips it, names the line, prints the rest', async () => {
    const f = join(dir, 'ev.jsonl');
    writeFileSync(f, '{"process_exec":{"process":{"pid":1,"binary":"/sbin/init","arguments":""}},"time":"t"}\nnot json\n');
    const r = await runCli(['events', '--file', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('🚀 process [1] /sbin/init\n');
    expect(r.stderr).toContain(`${f}:2: not a JSON event, skipped`);
  });
});

describe('probe', () => {
  it('reports what this kernel has and lacks', async () => {
    const r = await runCli(['probe', '-o', 'json']);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.btf).toBe(true);
    expect(p.ringbuf).toBe(true);
    expect(p.programTypes.tracing).toBe(true);
    expect(p.helpers.bpf_send_signal).toBe(true);
    const text = await runCli(['probe']);
    expect(text.stdout).toMatch(/ring buffer\s+yes/);
  });
});

describe('lifecycle', () => {
  let agent: RunningAgent | undefined;
  afterAll(() => cleanup(agent));

  it('SIGTERM detaches every program and exits 0', async () => {
    agent = await startAgent();
    expect(loadedPrograms().sort()).toEqual(['pal_exec', 'pal_exit', 'pal_fork']);
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(await settledPrograms()).toEqual([]);
    expect(agent.stderr()).toContain('programs detached, sinks flushed');
  });

  it('a crash (SIGKILL) leaves no program attached, and a restart works', async () => {
    cleanup(agent);
    const socket = join(dir, 'crash.sock');
    agent = await startAgent([], { socket });
    await agent.stop('SIGKILL');
    expect(await settledPrograms()).toEqual([]);
    expect(existsSync(socket)).toBe(true); // left behind by the crash
    cleanup(agent);
    agent = await startAgent([], { socket }); // the stale socket does not block the next start
    expect(await agent.stop()).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });
});
