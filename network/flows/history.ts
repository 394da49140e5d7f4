// The most recent network flows the agent exported, for `palisade observe`: a fixed ring of their
// JSON lines (what the client prints, unchanged) beside the few fields filters read, and the
// subscribers that follow new ones. Nothing is copied per flow beyond one small record.
import type { FlowFields, FlowMatcher } from './filter.js';
import type { FlowJson } from './types.js';

export const DEFAULT_HISTORY_SIZE = 4096;

/** The process block of a flow as the CLI reads it (the exporter writes the full block). */
export interface FlowProcess {
  pid?: number;
  binary?: string;
  arguments?: string;
}

/** One exported line: {"network_flow": {...}, "node_name": "...", "time": "..."}. */
export interface ExportedFlow {
  network_flow: FlowJson & { process?: FlowProcess; parent?: FlowProcess };
  node_name?: string;
  time?: string;
}

export interface FlowRecord {
  /** Epoch milliseconds of the flow. */
  readonly time: number;
  /** The exported JSON line, without "\n". */
  readonly line: string;
  readonly fields: FlowFields;
}

export interface HistoryQuery {
  /** Flows at or after this time (epoch ms). */
  since?: number;
  /** At most the last N that match (after `since`). */
  last?: number;
  match?: FlowMatcher;
}

/** The parsed flow of an exported JSON line, or null when the line is not a network_flow event. */
export function parseFlowLine(line: string): { event: ExportedFlow; time: number } | null {
  try {
    return flowOfEvent(JSON.parse(line));
  } catch {
    return null;
  }
}

/** An exported event (parsed JSON) as a flow with its time in epoch ms (0 when it has none), or null. */
export function flowOfEvent(ev: unknown): { event: ExportedFlow; time: number } | null {
  if (typeof ev !== 'object' || ev === null || !('network_flow' in ev)) return null;
  const e = ev as ExportedFlow;
  const f = e.network_flow;
  if (typeof f !== 'object' || f === null || typeof f.source !== 'object' || typeof f.destination !== 'object') return null;
  const time = e.time === undefined ? NaN : Date.parse(e.time);
  return { event: e, time: Number.isNaN(time) ? 0 : time };
}

/** The fields filters read, sharing the flow's endpoint objects. */
export function flowFields(f: FlowJson): FlowFields {
  return { type: f.type, verdict: f.verdict, protocol: f.protocol, source: f.source, destination: f.destination };
}

export class FlowHistory {
  private readonly ring: Array<FlowRecord | undefined>;
  /** Next slot to write. */
  private head = 0;
  private count = 0;
  private pushed = 0;
  private readonly followers = new Set<{ match: FlowMatcher | undefined; fn: (r: FlowRecord) => void }>();

  constructor(readonly capacity: number = DEFAULT_HISTORY_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`flow history size must be a whole number ≥ 1, got ${capacity}`);
    this.ring = new Array<FlowRecord | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Flows pushed since the start (the ring holds the last `capacity` of them). */
  get total(): number {
    return this.pushed;
  }

  /** A flow the pipeline exported: its object (only the fields filters need are kept) and its line. */
  push(flow: FlowJson, line: string, time: number): void {
    const r: FlowRecord = { time, line, fields: flowFields(flow) };
    this.ring[this.head] = r;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.pushed++;
    for (const f of this.followers) if (f.match === undefined || f.match(r.fields)) f.fn(r);
  }

  /** An exported line, parsed here; false (and nothing kept) when it is not a network_flow event. */
  pushLine(line: string): boolean {
    const p = parseFlowLine(line);
    if (!p) return false;
    this.push(p.event.network_flow, line, p.time);
    return true;
  }

  /** Matching flows, oldest first. */
  query(q: HistoryQuery = {}): FlowRecord[] {
    const out: FlowRecord[] = [];
    const start = (this.head - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const r = this.ring[(start + i) % this.capacity]!;
      if (q.since !== undefined && r.time < q.since) continue;
      if (q.match && !q.match(r.fields)) continue;
      out.push(r);
    }
    return q.last !== undefined && out.length > q.last ? out.slice(out.length - q.last) : out;
  }

  /** Calls fn with each new matching flow, as it is pushed, until the returned function is called. */
  follow(match: FlowMatcher | undefined, fn: (r: FlowRecord) => void): () => void {
    const f = { match, fn };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }
}
