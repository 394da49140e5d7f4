// The `observe` op of the local API: flows from the history ring that match the client's filter,
// then (with follow) each new one as it is exported, as JSON lines. A client that reads too slowly
// loses flows; the count reaches it as an events_lost line once it catches up.
import { compileFlowFilter, type FlowFilterSpec, type FlowMatcher } from '../../network/flows/filter.js';
import type { FlowHistory } from '../../network/flows/history.js';

export interface ObserveRequest {
  op: 'observe';
  filter?: FlowFilterSpec;
  /** Epoch ms: flows at or after. */
  since?: number;
  /** The last N matching flows of the ring. Without since and last, all matching flows of the ring. */
  last?: number;
  /** Keep the connection and send new matching flows. */
  follow?: boolean;
}

/** Bytes a follower may fall behind before its flows are dropped. */
const FOLLOW_HIGH_WATER = 4 << 20;

/** The output side of a connection, what serveObserve uses of it: a net.Socket, or a stand-in in tests. */
export interface ObserveClient {
  readonly writableLength: number;
  readonly destroyed: boolean;
  write(chunk: string): boolean;
  end(): unknown;
  end(chunk: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export function serveObserve(history: FlowHistory, req: ObserveRequest, client: ObserveClient): void {
  let match: FlowMatcher | undefined;
  try {
    if (req.since !== undefined && typeof req.since !== 'number') throw new Error('since: expected epoch milliseconds');
    if (req.last !== undefined && (!Number.isInteger(req.last) || req.last < 0)) throw new Error('--last: expected a whole number');
    match = req.filter ? compileFlowFilter(req.filter) : undefined;
  } catch (e) {
    client.end(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + '\n');
    return;
  }
  const q: Parameters<FlowHistory['query']>[0] = {};
  if (req.since !== undefined) q.since = req.since;
  if (req.last !== undefined) q.last = req.last;
  if (match) q.match = match;
  const backlog = history.query(q);
  if (backlog.length > 0) client.write(backlog.map((r) => r.line + '\n').join(''));
  if (!req.follow) {
    client.end();
    return;
  }
  let lost = 0;
  const stop = history.follow(match, (r) => {
    if (client.destroyed) return;
    if (client.writableLength > FOLLOW_HIGH_WATER) {
      lost++;
      return;
    }
    if (lost > 0) {
      client.write(JSON.stringify({ events_lost: { count: lost, reason: 'sink_backpressure', where: 'observe' }, time: new Date().toISOString() }) + '\n');
      lost = 0;
    }
    client.write(r.line + '\n');
  });
  client.on('close', stop);
}
