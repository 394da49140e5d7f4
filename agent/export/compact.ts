// One short line per event for people, in the spirit of `tetra getevents -o compact`.
// One formatter over a small view, so the agent's stdout and `palisade events` print the same thing.
import type { PalisadeEvent } from '../pipeline/events.js';

interface ProcessView {
  pid?: number;
  binary?: string;
  arguments?: string;
}

export type JsonEvent = Record<string, unknown> & { time?: string; node_name?: string };

/** The event type of a JSON event: its one key besides node_name and time. */
export function jsonEventType(ev: JsonEvent): string {
  for (const k in ev) if (k !== 'node_name' && k !== 'time') return k;
  return 'unknown';
}

/** What a compact line shows; built from an internal event or from its JSON form alike. */
export interface CompactView {
  type: string;
  pid?: number | undefined;
  binary?: string | undefined;
  arguments?: string | undefined;
  status?: number | undefined;
  signal?: string | undefined;
  count?: number | undefined;
  reason?: string | undefined;
  where?: string | undefined;
}

function who(v: CompactView): string {
  const args = v.arguments ? ' ' + v.arguments : '';
  return `[${v.pid ?? '?'}] ${v.binary ?? '<unknown>'}${args}`;
}

export function compactLine(v: CompactView): string {
  switch (v.type) {
    case 'process_exec':
      return `🚀 process ${who(v)}`;
    case 'process_exit':
      return `💥 exit    ${who(v)} ${v.signal ? v.signal : String(v.status ?? 0)}`;
    case 'events_lost':
      return `⚠️  lost    ${String(v.count)} events (${String(v.reason)} in ${String(v.where)})`;
    default:
      return `❓ ${v.type} ${who(v)}`;
  }
}

/** The view of an event read back from JSON (a file, stdin, the agent's socket). */
export function viewOfJson(ev: JsonEvent): CompactView {
  const type = jsonEventType(ev);
  const body = (ev[type] ?? {}) as Record<string, unknown> & { process?: ProcessView };
  const p = body.process;
  return {
    type, pid: p?.pid, binary: p?.binary, arguments: p?.arguments,
    status: body.status as number | undefined, signal: body.signal as string | undefined,
    count: body.count as number | undefined, reason: body.reason as string | undefined, where: body.where as string | undefined,
  };
}

/** The view of an event inside the agent: no JSON parsing on the export path. */
export function viewOfEvent(ev: PalisadeEvent): CompactView {
  switch (ev.type) {
    case 'events_lost':
      return ev;
    case 'process_exit':
      return { type: ev.type, pid: ev.process.pid, binary: ev.process.binary, arguments: ev.process.arguments, status: ev.status, signal: ev.signal };
    default:
      return { type: ev.type, pid: ev.process.pid, binary: ev.process.binary, arguments: ev.process.arguments };
  }
}
