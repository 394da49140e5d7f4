// `palisade events`: read events from the running agent, a JSON-lines file or stdin, filter them,
// print them as JSON or compact lines.
import { jsonLines, openJsonLinesFile } from './json-lines.js';
import type { Command } from 'commander';
import { request } from '../api/local.js';
import { compactLine, jsonEventType, viewOfJson, type JsonEvent } from '../export/compact.js';
import { EVENT_TYPES } from '../pipeline/events.js';
import { CliError } from './errors.js';
import { SOCKET_OPTION } from './status.js';

export interface EventFilter {
  types?: Set<string>;
  binary?: string;
  pid?: number;
}

/** Matches on the event's own process: binary by full path or base name, pid exactly. */
export function matches(ev: JsonEvent, f: EventFilter): boolean {
  const type = jsonEventType(ev);
  if (f.types && !f.types.has(type)) return false;
  if (f.binary === undefined && f.pid === undefined) return true;
  const proc = (ev[type] as { process?: { binary?: string; pid?: number } } | undefined)?.process;
  if (!proc) return false;
  if (f.pid !== undefined && proc.pid !== f.pid) return false;
  if (f.binary !== undefined) {
    const b = proc.binary ?? '';
    if (b !== f.binary && b.slice(b.lastIndexOf('/') + 1) !== f.binary) return false;
  }
  return true;
}

interface EventsFlags {
  socket: string;
  file?: string;
  output: string;
  type?: string;
  binary?: string;
  pid?: string;
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('print events from the running agent (or a JSON-lines file, or stdin with --file -)')
    .option(...SOCKET_OPTION)
    .option('-f, --file <path>', "read a JSON-lines file instead of the agent ('-' for stdin)")
    .option('-o, --output <fmt>', 'json|compact', 'compact')
    .option('--type <types>', `comma-separated event types (${EVENT_TYPES.join(', ')})`)
    .option('--binary <path>', 'only events of this binary (full path or base name)')
    .option('--pid <pid>', 'only events of this process id')
    .action(async (opts: EventsFlags) => {
      if (opts.output !== 'json' && opts.output !== 'compact') throw new CliError(`--output: expected json or compact, got "${opts.output}"`, 2);
      const filter: EventFilter = {};
      if (opts.type) {
        filter.types = new Set(opts.type.split(',').map((t) => t.trim()));
        for (const t of filter.types) {
          if (!(EVENT_TYPES as readonly string[]).includes(t)) throw new CliError(`--type: unknown event type "${t}" (known: ${EVENT_TYPES.join(', ')})`, 2);
        }
      }
      if (opts.binary) filter.binary = opts.binary;
      if (opts.pid !== undefined) {
        if (!/^\d+$/.test(opts.pid)) throw new CliError(`--pid: expected a number, got "${opts.pid}"`, 2);
        filter.pid = Number(opts.pid);
      }
      const input = opts.file ? await openJsonLinesFile(opts.file) : await request(opts.socket, { op: 'events' });
      for await (const { line, value } of jsonLines(input, opts.file ?? 'stream')) {
        const ev = value as JsonEvent;
        if (!matches(ev, filter)) continue;
        if (!process.stdout.write((opts.output === 'json' ? line : compactLine(viewOfJson(ev))) + '\n')) {
          await new Promise((r) => process.stdout.once('drain', r));
        }
      }
    });
}
