// One short line per event for people, in the spirit of `tetra getevents -o compact`.
// One formatter over a small view, so the agent's stdout and `palisade events` print the same thing.
import { flowSummary } from '../../network/flows/format.js';
import type { ExportedFlow } from '../../network/flows/history.js';
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
  /** Hook events: the hook (syscalls/sys_enter_openat, a function, binary:symbol), args as text, action. */
  hook?: string | undefined;
  detail?: string | undefined;
  action?: string | undefined;
  enforced?: boolean | undefined;
  policy?: string | undefined;
}

const VERBS: Array<[RegExp, string]> = [
  [/open/, '📬 open   '], [/write/, '📝 write  '], [/read/, '📖 read   '], [/connect/, '🔌 connect'],
  [/unlink|rmdir/, '🧹 unlink '], [/rename/, '🔀 rename '], [/setuid|setgid|setres|setre|capset/, '🔑 setid  '],
  [/module/, '🧩 module '], [/bpf/, '🐝 bpf    '], [/kill/, '🔫 kill   '],
];

const ACTIONS: Record<string, [string, string]> = {
  KPROBE_ACTION_SIGKILL: ['💀 killed', 'would kill'],
  KPROBE_ACTION_SIGNAL: ['⚡ signalled', 'would signal'],
  KPROBE_ACTION_OVERRIDE: ['⛔ denied', 'would deny'],
};

function hookLine(v: CompactView): string {
  const name = (v.hook ?? '').replace(/^.*\/(sys_enter_|sys_exit_)?/, '');
  const verb = VERBS.find(([re]) => re.test(name))?.[1] ?? `🔍 ${name}`;
  const act = v.action ? ACTIONS[v.action] : undefined;
  const suffix = act ? (v.enforced ? ` ${act[0]}` : ` (monitor: ${act[1]})`) : '';
  return `${verb} ${who(v)} ${v.detail ?? ''}${suffix}`;
}

type JsonArg = Record<string, unknown>;

/** An argument from the JSON form as the same plain text the pipeline gives internal events. */
function argText(a: JsonArg): string {
  if ('string_arg' in a) return String(a.string_arg);
  if ('bytes_arg' in a) return `<${Buffer.from(String(a.bytes_arg), 'base64').length} bytes>`;
  if ('sockaddr_arg' in a) {
    const s = a.sockaddr_arg as { family?: string; addr?: string; port?: number };
    if (!s.addr) return String(s.family);
    return s.family === 'AF_INET6' ? `[${s.addr}]:${s.port}` : `${s.addr}:${s.port}`;
  }
  const v = Object.values(a)[0];
  return String(v);
}

function hookOfJson(body: Record<string, unknown>): string {
  if (typeof body.subsys === 'string') return `${body.subsys}/${String(body.event)}`;
  if (typeof body.symbol === 'string') return `${String(body.path)}:${body.symbol}`;
  return String(body.function_name ?? '');
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
    case 'process_tracepoint':
    case 'process_kprobe':
    case 'process_uprobe':
    case 'process_lsm':
      return hookLine(v);
    case 'events_lost':
      return `⚠️  lost    ${String(v.count)} events (${String(v.reason)} in ${String(v.where)})`;
    case 'network_flow':
      return `🌐 flow    ${v.detail ?? ''}`;
    default:
      return `❓ ${v.type} ${who(v)}`;
  }
}

/** The view of an event read back from JSON (a file, stdin, the agent's socket). */
export function viewOfJson(ev: JsonEvent): CompactView {
  const type = jsonEventType(ev);
  const body = (ev[type] ?? {}) as Record<string, unknown> & { process?: ProcessView };
  const p = body.process;
  if (type === 'network_flow') return { type, pid: p?.pid, binary: p?.binary, detail: flowSummary(ev as unknown as ExportedFlow) };
  return {
    type, pid: p?.pid, binary: p?.binary, arguments: p?.arguments,
    status: body.status as number | undefined, signal: body.signal as string | undefined,
    count: body.count as number | undefined, reason: body.reason as string | undefined, where: body.where as string | undefined,
    ...(Array.isArray(body.args)
      ? {
        hook: hookOfJson(body), detail: (body.args as JsonArg[]).map(argText).join(' '), action: body.action as string,
        enforced: body.enforced as boolean | undefined, policy: body.policy_name as string,
      }
      : {}),
  };
}

/** The view of an event inside the agent: no JSON parsing on the export path. */
export function viewOfEvent(ev: PalisadeEvent): CompactView {
  switch (ev.type) {
    case 'events_lost':
      return ev;
    case 'process_tracepoint':
    case 'process_kprobe':
    case 'process_uprobe':
    case 'process_lsm':
      return {
        type: ev.type, pid: ev.process.pid, binary: ev.process.binary, arguments: ev.process.arguments,
        hook: ev.hook.label, detail: ev.argsText, action: ev.action, enforced: ev.action === 'KPROBE_ACTION_POST' ? undefined : ev.enforced,
        policy: ev.hook.policyName,
      };
    case 'process_exit':
      return { type: ev.type, pid: ev.process.pid, binary: ev.process.binary, arguments: ev.process.arguments, status: ev.status, signal: ev.signal };
    case 'network_flow': {
      const process = ev.process ? { pid: ev.process.pid, binary: ev.process.binary } : undefined;
      return { type: ev.type, pid: ev.process?.pid, binary: ev.process?.binary, detail: flowSummary({ network_flow: { ...ev.flow, ...(process ? { process } : {}) } }) };
    }
    default:
      return { type: ev.type, pid: ev.process.pid, binary: ev.process.binary, arguments: ev.process.arguments };
  }
}
