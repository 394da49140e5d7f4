// `palisade`: the agent and the tools that talk to it.
import { Command, CommanderError } from 'commander';
import { registerAgent } from './agent.js';
import { registerEndpoint } from './endpoint.js';
import { registerEvents } from './events.js';
import { registerNetpol } from './netpol.js';
import { registerObserve } from './observe.js';
import { registerPolicy } from './policy.js';
import { registerProbe } from './probe.js';
import { registerStatus } from './status.js';
import { VERSION } from '../daemon.js';
import { CliError } from './errors.js';

const program = new Command('palisade')
  .description('eBPF runtime security and network policy agent')
  .version(VERSION, '-v, --version')
  .showSuggestionAfterError(true)
  .exitOverride();

registerAgent(program);
registerProbe(program);
registerStatus(program);
registerEvents(program);
registerPolicy(program);
registerNetpol(program);
registerObserve(program);
registerEndpoint(program);
program
  .command('version')
  .description('print the version')
  .action(() => console.log(`palisade ${VERSION}`));

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has already printed its one-line message
    process.exit(e.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(`palisade: ${e instanceof CliError ? e.message : e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e instanceof CliError ? e.exitCode : 1);
}
