// The local socket `palisade status` and `palisade events` talk to. One JSON request line from the
// client: {"op":"status"} gets one JSON line back; {"op":"events"} gets the live stream of events
// as JSON lines until it hangs up. A client that reads too slowly loses events, counted and reported.
// endpoint_* (workload labels, endpoints.ts) answer one line; observe (flow history, observe.ts) streams.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { StreamSink } from '../export/stream.js';
import type { Sink } from '../export/sink.js';
import type { EndpointRequest } from './endpoints.js';
import type { ObserveRequest } from './observe.js';
import type { NetpolRequest } from '../network/service.js';

export interface LocalHandlers {
  status(): unknown;
  /** policy_* requests: the result (or {error}) as one JSON line. */
  policy(req: PolicyRequest): unknown;
  subscribe(sink: Sink): void;
  unsubscribe(sink: Sink): void;
  /** netpol_* requests: network policies (agent/network/service.ts). */
  netpol?(req: NetpolRequest): unknown;
  /** endpoint_* requests (handleEndpointRequest); absent while the agent has no workload store. */
  endpoints?(req: EndpointRequest): unknown;
  /** observe: writes flows to the socket, and ends it unless following (serveObserve). */
  observe?(req: ObserveRequest, sock: Socket): void;
}

export type PolicyRequest =
  | { op: 'policy_add'; file: string; text: string; mode?: 'enforce' | 'monitor' }
  | { op: 'policy_delete' | 'policy_enable' | 'policy_disable'; name: string }
  | { op: 'policy_list' };
export type LocalRequest = { op: 'status' } | { op: 'events' } | PolicyRequest | NetpolRequest | EndpointRequest | ObserveRequest;

/** Longest request line: a policy file travels inside one. */
const MAX_REQUEST = 4 << 20;

/** Bytes a client may fall behind before its events are dropped. */
const CLIENT_HIGH_WATER = 16 << 20;

export class LocalServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private nextId = 1;

  constructor(readonly path: string, private readonly handlers: LocalHandlers) {
    this.server = createServer((s) => this.onConnection(s));
  }

  get clients(): number {
    return this.sockets.size;
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    if (existsSync(this.path)) {
      if (await isListening(this.path)) throw new Error(`another agent is already listening on ${this.path}`);
      rmSync(this.path, { force: true }); // left by an agent that did not stop cleanly
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let line = '';
    const onData = (chunk: Buffer): void => {
      line += chunk.toString('utf8');
      const nl = line.indexOf('\n');
      if (nl < 0) {
        if (line.length > MAX_REQUEST) sock.destroy();
        return;
      }
      sock.off('data', onData);
      this.handle(sock, line.slice(0, nl));
    };
    sock.on('data', onData);
  }

  private handle(sock: Socket, text: string): void {
    let req: LocalRequest;
    try {
      req = JSON.parse(text) as LocalRequest;
    } catch {
      sock.end(JSON.stringify({ error: 'request is not JSON' }) + '\n');
      return;
    }
    if (typeof req !== 'object' || req === null || typeof req.op !== 'string') {
      sock.end(JSON.stringify({ error: 'request has no op' }) + '\n'); // a bad request must not throw in the agent
      return;
    }
    if (req.op === 'status') {
      sock.end(JSON.stringify(this.handlers.status()) + '\n');
    } else if (req.op === 'events') {
      const sink = new StreamSink(`client:${this.nextId++}`, sock, 'json', CLIENT_HIGH_WATER);
      this.handlers.subscribe(sink);
      sock.on('close', () => this.handlers.unsubscribe(sink));
    } else if (req.op === 'observe') {
      const observe = this.handlers.observe;
      answer(sock, () => {
        if (!observe) return { error: 'this agent keeps no flow history' };
        observe(req as ObserveRequest, sock); // it answers, and ends the socket unless following
        return undefined;
      });
    } else if (req.op.startsWith('policy_')) {
      answer(sock, () => this.handlers.policy(req as PolicyRequest));
    } else if (req.op.startsWith('netpol_')) {
      const netpol = this.handlers.netpol;
      answer(sock, () => (netpol ? netpol(req as NetpolRequest) : { error: 'network policy is off in this agent (--no-network)' }));
    } else if (req.op.startsWith('endpoint_')) {
      const endpoints = this.handlers.endpoints;
      answer(sock, () => (endpoints ? endpoints(req as EndpointRequest) : { error: 'this agent does not manage workloads' }));
    } else {
      sock.end(JSON.stringify({ error: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}` }) + '\n');
    }
  }
}

/** One JSON answer line, or {error} when the handler throws: a bad request never takes the agent
 *  down. A handler that answers on the socket itself returns undefined. */
function answer(sock: Socket, fn: () => unknown): void {
  let out: unknown;
  try {
    out = fn();
  } catch (e) {
    out = { error: e instanceof Error ? e.message : String(e) };
  }
  if (out !== undefined) sock.end(JSON.stringify(out) + '\n');
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Client side: sends one request and hands back the socket (for streams) or reads one line. */
export function request(path: string, req: LocalRequest): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.write(JSON.stringify(req) + '\n');
      resolve(c);
    });
    c.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'is the agent running?' : e.message;
      reject(new Error(`cannot reach the agent at ${path}: ${e.code ?? 'error'} (${why})`));
    });
  });
}
