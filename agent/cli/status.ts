// `palisade status`: the running agent's counters.
import type { Command } from 'commander';
import { request, type LocalRequest } from '../api/local.js';
import type { AgentStatus } from '../daemon.js';
import { CliError } from './errors.js';

export const DEFAULT_SOCKET = '/run/palisade/palisade.sock';
/** The --socket option of every command that talks to the agent. */
export const SOCKET_OPTION = ['--socket <path>', 'agent socket', DEFAULT_SOCKET] as const;

/** One request, one JSON line back. */
export async function ask(path: string, req: LocalRequest): Promise<string> {
  const sock = await request(path, req);
  let data = '';
  for await (const chunk of sock) data += String(chunk);
  return data.trim();
}

/** Sends a one-answer request to the agent; an {error} answer becomes a CliError. */
export async function agentCall<T>(socket: string, req: LocalRequest): Promise<T> {
  const line = await ask(socket, req);
  if (line === '') throw new CliError('the agent closed the connection without answering');
  const out = JSON.parse(line) as T & { error?: string };
  if (out.error) throw new CliError(out.error);
  return out;
}

const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MB`;

export function renderStatus(s: AgentStatus): string {
  const e = s.events;
  const c = s.process_cache;
  return [
    `palisade ${s.version} on ${s.node_name} (pid ${s.pid}), up ${s.uptime_seconds}s`,
    `programs:      ${s.programs.join(', ')}`,
    `events:        received ${e.received}, decoded ${e.decoded}, exported ${e.exported}`,
    `lost:          kernel ${e.lost} (ring buffer ${s.ring_buffer_bytes} bytes), sinks ${e.sinkDropped}, decode errors ${e.decodeErrors}`,
    `process cache: ${c.size} entries (${c.live} live), evicted ${c.evicted}, parent missing ${c.parentMissing}`,
    ...s.sinks.map((k) => `sink ${k.name}: written ${k.written}, dropped ${k.dropped}`),
    `clients:       ${s.clients}`,
    `memory:        rss ${mb(s.memory.rss)}, heap ${mb(s.memory.heap_used)} of ${mb(s.memory.heap_total)}, buffers ${mb(s.memory.array_buffers)}`,
    s.network
      ? `network:       ${s.network.policies} policies, ${s.network.workloads} workloads; verdicts forwarded ${s.network.forwarded}, ` +
        `dropped ${s.network.dropped}, audit ${s.network.audit}; records lost ${s.network.lost}`
      : 'network:       off',
  ].join('\n');
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show the running agent's counters: events received, decoded, lost, exported")
    .option(...SOCKET_OPTION)
    .option('-o, --output <fmt>', 'text|json', 'text')
    .action(async (opts: { socket: string; output: string }) => {
      const status = await agentCall<AgentStatus>(opts.socket, { op: 'status' });
      console.log(opts.output === 'json' ? JSON.stringify(status) : renderStatus(status));
    });
}
