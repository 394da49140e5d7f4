// The events the pipeline carries. Processes are shared cache entries, never copied per event.
import type { Process } from '../process/process.js';
import type { FlowJson } from '../../network/flows/types.js';
import type { HookEvent } from './hook-event.js';

export interface ProcessExecEvent {
  type: 'process_exec';
  time: string;
  process: Process;
  parent: Process | null;
  ancestors: Process[];
}

export interface ProcessExitEvent {
  type: 'process_exit';
  time: string;
  process: Process;
  parent: Process | null;
  ancestors: Process[];
  /** Exit status (0-255) when the process exited by itself. */
  status: number;
  /** Signal name ("SIGKILL") when a signal ended it, else "". */
  signal: string;
}

/**
 * A tracing hook fired for a process (process_tracepoint, process_kprobe …). Its arguments are read
 * from its record in the pipeline's drain buffer, so only while the sinks' write() runs.
 */
export type ProcessHookEvent = HookEvent;

/** The agent lost events somewhere; the count says how many since the last such report. */
export interface EventsLostEvent {
  type: 'events_lost';
  time: string;
  count: number;
  /** "ring_buffer_full", "slow_client", "exporter_backpressure" ... */
  reason: string;
  /** Which part lost them: "kernel", a sink name, a client. */
  where: string;
}

/** A connection, a policy verdict or a DNS message (network/flows/types.ts). */
export interface NetworkFlowEvent {
  type: 'network_flow';
  time: string;
  /** The task the record names (connect, sendmsg, DNS query), when the cache knows it. */
  process: Process | null;
  parent: Process | null;
  flow: FlowJson;
}

export type PalisadeEvent = ProcessExecEvent | ProcessExitEvent | ProcessHookEvent | NetworkFlowEvent | EventsLostEvent;
export type EventType = PalisadeEvent['type'];
export const EVENT_TYPES: readonly EventType[] = [
  'process_exec', 'process_exit', 'process_tracepoint', 'process_kprobe', 'process_uprobe', 'process_lsm', 'network_flow', 'events_lost',
];

const SIGNALS = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT',
  'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF',
  'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

export function signalName(n: number): string {
  if (n === 0) return '';
  return SIGNALS[n] ?? (n >= 34 && n <= 64 ? `SIGRTMIN+${n - 34}` : `SIG${n}`);
}

/** Splits a wait(2) status into Tetragon's (status, signal) pair. */
export function decodeWaitStatus(code: number): { status: number; signal: string } {
  const sig = code & 0x7f;
  return sig === 0 ? { status: (code >> 8) & 0xff, signal: '' } : { status: 0, signal: signalName(sig) };
}
