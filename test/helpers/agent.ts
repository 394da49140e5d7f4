// Runs the real agent (bin/palisade) for e2e tests and reads what it exported.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PALISADE = join(ROOT, 'bin/palisade');

export type Ev = Record<string, any>;

export interface RunningAgent {
  proc: ChildProcess;
  dir: string;
  file: string;
  socket: string;
  stderr(): string;
  /** Every exported line so far, oldest rotated file first, parsed. */
  events(): Ev[];
  waitFor(pred: (evs: Ev[]) => boolean, timeoutMs?: number, what?: string): Promise<Ev[]>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The export file's rotated copies and itself, oldest first. */
export function rotatedFiles(file: string): string[] {
  const dir = join(file, '..');
  const base = file.slice(dir.length + 1);
  const rotated = readdirSync(dir)
    .filter((n) => n.startsWith(base + '.') && /^\d+$/.test(n.slice(base.length + 1)))
    .sort((a, b) => Number(b.slice(base.length + 1)) - Number(a.slice(base.length + 1)));
  return [...rotated, base].map((n) => join(dir, n)).filter((p) => existsSync(p));
}

/** Complete lines only: the agent may be writing the last one right now. */
export function readRotated(file: string): string[] {
  const lines: string[] = [];
  for (const p of rotatedFiles(file)) {
    const text = readFileSync(p, 'utf8');
    for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) if (l !== '') lines.push(l);
  }
  return lines;
}

/** `env`: added to the agent's environment (e.g. PALISADE_DISABLE_ATTACH). */
export async function startAgent(extra: string[] = [], opts: { socket?: string; env?: Record<string, string> } = {}): Promise<RunningAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'pal-e2e-'));
  const file = join(dir, 'events.log');
  const socket = opts.socket ?? join(dir, 'palisade.sock');
  const proc = spawn(PALISADE, ['agent', '--export-stdout', 'none', '--export-file', file, '--socket', socket, '--log-level', 'info', '--policy-dir', '', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!err.includes('local API listening')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`agent did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const events = (): Ev[] => readRotated(file).map((l) => JSON.parse(l) as Ev);
  return {
    proc, dir, file, socket,
    stderr: () => err,
    events,
    async waitFor(pred, timeoutMs = 30_000, what = 'events') {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const evs = events();
        if (pred(evs)) return evs;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent stderr:\n${err.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      const code = await exited;
      return code;
    },
  };
}

export function cleanup(a: RunningAgent | undefined): void {
  if (!a) return;
  if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
  rmSync(a.dir, { recursive: true, force: true });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const p = spawn(PALISADE, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(input ?? '');
    p.on('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

export const execOf = (e: Ev) => e.process_exec?.process;
export const exitOf = (e: Ev) => e.process_exit?.process;
