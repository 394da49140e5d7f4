// Exec storm: 20,000 short processes must give 20,000 exec and 20,000 exit events, none lost,
// while the export file rotates under them and keeps every line whole and in order.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { cleanup, readRotated, rotatedFiles, runCli, startAgent, type RunningAgent } from '../helpers/agent.js';

const N = 20_000;
let agent: RunningAgent | undefined;

afterAll(async () => {
  if (agent) await agent.stop();
  cleanup(agent);
});

describe('exec storm', () => {
  it(`records ${N} execs and ${N} exits with zero loss across rotated files`, async () => {
    agent = await startAgent(['--export-file-max-size-mb', '4', '--export-file-max-files', '1000']);
    const marker = `storm${process.pid}x`;
    const t0 = Date.now();
    // Two loops in parallel: both cores busy forking, as a busy host would be.
    execFileSync('/bin/bash', ['-c', `
      run() { for ((i = $1; i < $2; i++)); do /bin/true ${marker}$i; done; }
      run 0 ${N / 2} & run ${N / 2} ${N} & wait`]);
    const spawnMs = Date.now() - t0;

    const lines = await (async () => {
      let last: string[] = [];
      const end = Date.now() + 60_000;
      for (;;) {
        last = readRotated(agent!.file);
        const exits = last.filter((l) => l.startsWith('{"process_exit"') && l.includes(marker)).length;
        if (exits >= N || Date.now() > end) return last;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const status = JSON.parse((await runCli(['status', '--socket', agent.socket, '-o', 'json'])).stdout);
    const lost = status.events.lost + status.events.sinkDropped;
    const execSeen = new Map<number, string>();
    const exitSeen = new Set<number>();
    let order = 0;
    for (const line of lines) {
      const ev = JSON.parse(line); // every line is whole JSON, also across rotation boundaries
      const exec = ev.process_exec?.process;
      const exit = ev.process_exit?.process;
      const p = exec ?? exit;
      if (!p || !p.arguments.startsWith(marker)) continue;
      const i = Number(p.arguments.slice(marker.length));
      if (exec) execSeen.set(i, exec.exec_id);
      else {
        // an exit comes after its exec, in file order
        if (execSeen.get(i) === exit.exec_id) order++;
        exitSeen.add(i);
      }
    }
    const msg = `lost ${lost} (kernel ${status.events.lost}, sinks ${status.events.sinkDropped}); ` +
      `execs ${execSeen.size}, exits ${exitSeen.size}; spawned ${N} in ${spawnMs} ms`;
    console.log(`exec storm: ${msg}; ${lines.length} lines`);
    expect(lost, msg).toBe(0);
    expect(execSeen.size, msg).toBe(N);
    expect(exitSeen.size, msg).toBe(N);
    expect(order, 'exits that follow their exec').toBe(N);
    expect(status.events.decodeErrors).toBe(0);
    // The lines above really did cross rotation boundaries, and no file outgrew its limit.
    const files = rotatedFiles(agent.file);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
