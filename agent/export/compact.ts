// One short line per event for people, in the spirit of `tetra getevents -o compact`.
// Works on the JSON form, so the agent's stdout and `palisade events` print the same thing.

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

function who(p: ProcessView | undefined): string {
  if (!p) return '[?] <unknown>';
  const args = p.arguments ? ' ' + p.arguments : '';
  return `[${p.pid ?? '?'}] ${p.binary ?? '<unknown>'}${args}`;
}

export function compactLine(ev: JsonEvent): string {
  const type = jsonEventType(ev);
  const body = (ev[type] ?? {}) as Record<string, unknown>;
  const proc = body.process as ProcessView | undefined;
  switch (type) {
    case 'process_exec':
      return `🚀 process ${who(proc)}`;
    case 'process_exit': {
      const end = body.signal ? String(body.signal) : String(body.status ?? 0);
      return `💥 exit    ${who(proc)} ${end}`;
    }
    case 'events_lost':
      return `⚠️  lost    ${String(body.count)} events (${String(body.reason)} in ${String(body.where)})`;
    default:
      return `❓ ${type} ${who(proc)}`;
  }
}
