// `palisade observe`: network flows from the running agent's history (and, with --follow, as they
// happen) or from a JSON-lines file, filtered as `hubble observe` filters them.
import { jsonLines, openJsonLinesFile } from './json-lines.js';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { request } from '../api/local.js';
import type { ObserveRequest } from '../api/observe.js';
import { compileFlowFilter, FilterError, FLOW_TYPES, PROTOCOLS, VERDICTS, type FlowFilterSpec, type FlowMatcher } from '../../network/flows/filter.js';
import { compactFlowLine, flowTableRow, TABLE_HEADER, TableWriter } from '../../network/flows/format.js';
import { flowFields, flowOfEvent, type ExportedFlow } from '../../network/flows/history.js';
import { parseSince } from '../../network/flows/since.js';
import { CliError } from './errors.js';
import { SOCKET_OPTION } from './status.js';

/** What plain `palisade observe` shows from the agent, as `hubble observe` does. */
export const DEFAULT_LAST = 20;

export interface ObserveFlags {
  socket: string;
  file?: string;
  output: string;
  verdict?: string[];
  type?: string[];
  protocol?: string[];
  fromLabel?: string[];
  toLabel?: string[];
  fromPod?: string[];
  toPod?: string[];
  fromIp?: string[];
  toIp?: string[];
  port?: string[];
  since?: string;
  last?: string;
  follow?: boolean;
}

export interface ObservePlan {
  filter: FlowFilterSpec;
  match: FlowMatcher;
  output: 'compact' | 'json' | 'table';
  since?: number;
  last?: number;
  follow: boolean;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
/** --verdict DROPPED,AUDIT is --verdict DROPPED --verdict AUDIT. */
const split = (values: string[] = []): string[] => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');

/** Checks the flags (CliError exit 2 naming the flag) and turns them into a query. */
export function planObserve(o: ObserveFlags, now = Date.now()): ObservePlan {
  if (o.output !== 'compact' && o.output !== 'json' && o.output !== 'table') {
    throw new CliError(`--output: expected compact, json or table, got ${JSON.stringify(o.output)}`, 2);
  }
  const filter: FlowFilterSpec = {};
  const put = (k: Exclude<keyof FlowFilterSpec, 'ports'>, v: string[] | undefined): void => {
    if (v && v.length > 0) filter[k] = v;
  };
  put('verdicts', split(o.verdict));
  put('types', split(o.type));
  put('protocols', split(o.protocol).map((p) => p.toLowerCase()));
  put('fromLabels', o.fromLabel);
  put('toLabels', o.toLabel);
  put('fromPods', o.fromPod);
  put('toPods', o.toPod);
  put('fromIps', o.fromIp);
  put('toIps', o.toIp);
  const ports = split(o.port).map((p) => {
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw new CliError(`--port: expected a port from 0 to 65535, got ${JSON.stringify(p)}`, 2);
    return Number(p);
  });
  if (ports.length > 0) filter.ports = ports;
  let match: FlowMatcher;
  try {
    match = compileFlowFilter(filter);
  } catch (e) {
    if (e instanceof FilterError) throw new CliError(e.message, 2);
    throw e;
  }
  const plan: ObservePlan = { filter, match, output: o.output, follow: o.follow === true };
  if (o.since !== undefined) {
    try {
      plan.since = parseSince(o.since, now);
    } catch (e) {
      throw new CliError(`--since: ${(e as Error).message}`, 2);
    }
  }
  if (o.last !== undefined) {
    if (!/^\d+$/.test(o.last)) throw new CliError(`--last: expected a whole number, got ${JSON.stringify(o.last)}`, 2);
    plan.last = Number(o.last);
  }
  if (o.file !== undefined && plan.follow) throw new CliError('--follow reads from the agent: it cannot be used with --file', 2);
  // From the agent, a bare `observe` shows the last few flows; a file is shown whole.
  if (o.file === undefined && plan.since === undefined && plan.last === undefined && !plan.follow) plan.last = DEFAULT_LAST;
  return plan;
}

/** Prints flows in the chosen format; table rows are aligned over each batch handed to it. */
class FlowPrinter {
  private readonly table: TableWriter | null;
  private headerDone = false;

  constructor(private readonly output: ObservePlan['output'], following: boolean) {
    this.table = output === 'table' ? new TableWriter(TABLE_HEADER) : null;
    // A followed stream cannot be measured ahead: start from widths that fit most flows.
    if (this.table && following) this.table.fit([['Nov 23 01:02:03.456', 'x'.repeat(32), 'x'.repeat(32), 'policy-verdict', 'FORWARDED', '']]);
  }

  async print(batch: Array<{ line: string; event: ExportedFlow; time: number }>): Promise<void> {
    if (batch.length === 0) return;
    let text: string;
    if (this.table) {
      const rows = batch.map((b) => flowTableRow(b.event, b.time));
      this.table.fit(rows);
      const lines = rows.map((r) => this.table!.line(r));
      if (!this.headerDone) lines.unshift(this.table.line(TABLE_HEADER));
      this.headerDone = true;
      text = lines.join('\n');
    } else if (this.output === 'json') text = batch.map((b) => b.line).join('\n');
    else text = batch.map((b) => compactFlowLine(b.event, b.time)).join('\n');
    if (!process.stdout.write(text + '\n')) await new Promise((r) => process.stdout.once('drain', r));
  }
}

async function openInput(file: string | undefined, socket: string, plan: ObservePlan): Promise<Readable> {
  if (file !== undefined) return openJsonLinesFile(file);
  const req: ObserveRequest = { op: 'observe', filter: plan.filter, follow: plan.follow };
  if (plan.since !== undefined) req.since = plan.since;
  if (plan.last !== undefined) req.last = plan.last;
  return request(socket, req);
}

type Printable = Parameters<FlowPrinter['print']>[0][number];

export async function runObserve(o: ObserveFlags): Promise<void> {
  const plan = planObserve(o);
  const fromFile = o.file !== undefined;
  const input = await openInput(o.file, o.socket, plan);
  const printer = new FlowPrinter(plan.output, plan.follow);
  // Lines go out as they come when nothing needs the whole set: a followed stream, or a file read
  // without --last into a format that does not align columns.
  const streaming = plan.follow || (fromFile && plan.last === undefined && plan.output !== 'table');
  let kept: Printable[] = [];
  for await (const { line, value: ev } of jsonLines(input, o.file ?? 'agent')) {
    const flow = flowOfEvent(ev);
    if (!flow) {
      if (!fromFile) agentMessage(ev); // other event types sharing an export file are skipped
      continue;
    }
    // The agent has filtered what it sends; a file is filtered here.
    if (fromFile && ((plan.since !== undefined && flow.time < plan.since) || !plan.match(flowFields(flow.event.network_flow)))) continue;
    const rec = { line, event: flow.event, time: flow.time };
    if (streaming) {
      await printer.print([rec]);
      continue;
    }
    kept.push(rec);
    // --last over a long file: trim now and then, not on every line.
    if (plan.last !== undefined && kept.length >= 2 * plan.last + 1024) kept = kept.slice(kept.length - plan.last);
  }
  if (plan.last !== undefined && kept.length > plan.last) kept = plan.last === 0 ? [] : kept.slice(kept.length - plan.last);
  await printer.print(kept);
}

/** A line from the agent that is not a flow: an error ends the command; lost flows are reported. */
function agentMessage(ev: unknown): void {
  const m = ev as { error?: unknown; events_lost?: { count?: unknown } } | null;
  if (typeof m?.error === 'string') throw new CliError(m.error);
  const lost = m?.events_lost?.count;
  if (typeof lost === 'number') process.stderr.write(`palisade: ${lost} flows lost: this client read too slowly\n`);
}

export function registerObserve(program: Command): void {
  program
    .command('observe')
    .description('print network flows (policy verdicts, connections, DNS) from the agent or a JSON-lines file')
    .option(...SOCKET_OPTION)
    .option('-f, --file <path>', "read an export file instead of the agent ('-' for stdin)")
    .option('-o, --output <fmt>', 'compact|json|table', 'compact')
    .option('--verdict <verdict>', `${VERDICTS.join('|')} (repeatable: any of them)`, collect)
    .option('--type <type>', `${FLOW_TYPES.join('|')} (repeatable)`, collect)
    .option('--protocol <proto>', `${PROTOCOLS.join('|')} (repeatable)`, collect)
    .option('--from-label <k=v>', 'source has this label (repeatable: all of them); "k" alone: any value', collect)
    .option('--to-label <k=v>', 'destination has this label (repeatable: all of them)', collect)
    .option('--from-pod <[ns/]pod>', 'source pod (needs pods: the k8s:io.kubernetes.pod.name label)', collect)
    .option('--to-pod <[ns/]pod>', 'destination pod (needs pods)', collect)
    .option('--from-ip <ip|cidr>', 'source address or prefix (repeatable)', collect)
    .option('--to-ip <ip|cidr>', 'destination address or prefix (repeatable)', collect)
    .option('--port <port>', 'source or destination port (repeatable)', collect)
    .option('--since <when>', 'flows since a duration ago (30s, 5m, 1h30m) or a time (2026-11-23T01:00:00Z)')
    .option('--last <n>', `the last N matching flows (from the agent, default ${DEFAULT_LAST} without --since/--follow)`)
    .option('--follow', 'keep printing new flows as they happen')
    .action((opts: ObserveFlags) => runObserve(opts));
}
