// The agent's node options (bin/node-options, which bin/palisade runs node with). A benchmark of agent
// code runs under them: V8's young-generation size alone moves a bulk policy compile by a third.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../native/index.js';

export function agentNodeOptions(): string[] {
  return readFileSync(join(packageRoot(), 'bin', 'node-options'), 'utf8').trim().split(/\s+/);
}

/**
 * Returns in a process that has the agent's node options; otherwise runs this script again with them
 * (before the options it was given, so an option given on the command line still wins) and exits
 * with its status.
 */
export function underAgentNodeOptions(): void {
  const want = agentNodeOptions();
  if (want.every((o) => process.execArgv.includes(o))) {
    console.log(`node options: ${process.execArgv.join(' ')} (the agent's are in bin/node-options)`);
    return;
  }
  const r = spawnSync(process.execPath, [...want, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
