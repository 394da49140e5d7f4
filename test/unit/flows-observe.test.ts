// `palisade observe`: filters, --since, the history ring, the observe op, formats and flag errors,
// over flows written by hand after network/flows/types.ts.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { serveObserve, type ObserveClient } from '../../agent/api/observe.js';
import { planObserve, type ObserveFlags } from '../../agent/cli/observe.js';
import { compileFlowFilter, type FlowFilterSpec } from '../../network/flows/filter.js';
import { compactFlowLine, flowTableRow, TABLE_HEADER, TableWriter } from '../../network/flows/format.js';
import { FlowHistory, parseFlowLine, type ExportedFlow } from '../../network/flows/history.js';
import { parseDuration, parseSince } from '../../network/flows/since.js';
import type { FlowJson } from '../../network/flows/types.js';

const web = { identity: 256, labels: ['app=web', 'tier=front'], namespace: 'default', workload: '/system.slice/web.service', ip: '10.213.0.1', port: 40512 };
const db = { identity: 257, labels: ['app=db'], namespace: 'default', workload: '/system.slice/db.service', ip: '10.213.0.2', port: 443 };
const curl = { exec_id: 'bm9kZToxOjQ3MTE=', pid: 4711, uid: 0, binary: '/usr/bin/curl', arguments: 'https://10.213.0.2/' };

const DENIED: ExportedFlow = {
  network_flow: {
    type: 'policy-verdict', event: 'verdict', verdict: 'DROPPED', traffic_direction: 'EGRESS', protocol: 'TCP',
    source: web, destination: db,
    policy: { name: 'web-deny', namespace: 'default', kind: 'CiliumNetworkPolicy', rule: 'spec.egressDeny[0]', mode: 'enforce' },
    socket_cookie: '8812',
    process: curl,
  },
  node_name: 'n1', time: '2026-11-23T01:02:03.456789123Z',
};
const CONNECT: ExportedFlow = {
  network_flow: {
    type: 'l4', event: 'connect', verdict: 'FORWARDED', traffic_direction: 'EGRESS', protocol: 'TCP',
    source: { ...web, port: 40514 }, destination: { identity: 2, labels: ['reserved:world'], ip: '93.184.216.34', port: 443 },
    process: curl,
  },
  node_name: 'n1', time: '2026-11-23T01:02:04.000000000Z',
};
const DNS_QUERY: ExportedFlow = {
  network_flow: {
    type: 'dns', event: 'dns_query', verdict: 'FORWARDED', traffic_direction: 'EGRESS', protocol: 'UDP',
    source: { ...web, port: 51000 },
    destination: { identity: 300, labels: ['k8s:app=coredns', 'k8s:io.kubernetes.pod.name=coredns-7d8f', 'k8s:io.kubernetes.pod.uid=0f1e'], namespace: 'kube-system', ip: '10.213.0.53', port: 53 },
    dns: { id: 4660, query: 'example.com.', qtypes: ['A', 'AAAA'] },
    process: curl,
  },
  node_name: 'n1', time: '2026-11-23T01:02:05.000000000Z',
};
const DNS_ANSWER: ExportedFlow = {
  network_flow: {
    ...DNS_QUERY.network_flow, event: 'dns_answer', traffic_direction: 'INGRESS',
    source: DNS_QUERY.network_flow.destination, destination: DNS_QUERY.network_flow.source,
    dns: { id: 4660, query: 'example.com.', qtypes: ['A'], rcode: 'NOERROR', ips: ['93.184.216.34'], cnames: ['edge.example.net.'] },
  },
  node_name: 'n1', time: '2026-11-23T01:02:05.002000000Z',
};
const AUDIT_PING: ExportedFlow = {
  network_flow: {
    type: 'policy-verdict', event: 'verdict', verdict: 'AUDIT', traffic_direction: 'INGRESS', protocol: 'ICMPv4',
    source: { identity: 1, labels: ['reserved:host'], ip: '10.213.0.254', port: 0 }, destination: { ...web, port: 0 },
    policy: { name: 'web-only', namespace: 'default', kind: 'CiliumNetworkPolicy', rule: 'default-deny', mode: 'audit' },
    icmp: { type: 8, code: 0 },
  },
  node_name: 'n1', time: '2026-11-23T01:02:06.000000000Z',
};
const CLOSE6: ExportedFlow = {
  network_flow: {
    type: 'l4', event: 'close', verdict: 'FORWARDED', traffic_direction: 'INGRESS', protocol: 'TCP',
    source: { identity: 16777217, labels: ['cidr:fd00::/64'], ip: 'fd00::9', port: 55000 }, destination: { ...db, ip: 'fd00::2', port: 5432 },
    bytes: { sent: 5120, received: 320 },
  },
  node_name: 'n1', time: '2026-11-23T01:02:07.000000000Z',
};
const ALL = [DENIED, CONNECT, DNS_QUERY, DNS_ANSWER, AUDIT_PING, CLOSE6];
const names = new Map<ExportedFlow, string>([[DENIED, 'DENIED'], [CONNECT, 'CONNECT'], [DNS_QUERY, 'DNS_QUERY'], [DNS_ANSWER, 'DNS_ANSWER'], [AUDIT_PING, 'AUDIT_PING'], [CLOSE6, 'CLOSE6']]);

/** Which fixtures a filter keeps. */
function kept(spec: FlowFilterSpec): string[] {
  const m = compileFlowFilter(spec);
  return ALL.filter((e) => m(e.network_flow)).map((e) => names.get(e)!);
}

describe('flow filters', () => {
  it('no filter keeps everything', () => expect(kept({})).toHaveLength(6));
  it('--verdict: any of the values', () => {
    expect(kept({ verdicts: ['DROPPED'] })).toEqual(['DENIED']);
    expect(kept({ verdicts: ['DROPPED', 'AUDIT'] })).toEqual(['DENIED', 'AUDIT_PING']);
  });
  it('--type', () => {
    expect(kept({ types: ['dns'] })).toEqual(['DNS_QUERY', 'DNS_ANSWER']);
    expect(kept({ types: ['l4'] })).toEqual(['CONNECT', 'CLOSE6']);
  });
  it('--protocol: icmp is either family, tcp/udp by name', () => {
    expect(kept({ protocols: ['icmp'] })).toEqual(['AUDIT_PING']);
    expect(kept({ protocols: ['udp'] })).toEqual(['DNS_QUERY', 'DNS_ANSWER']);
    expect(kept({ protocols: ['icmpv6'] })).toEqual([]);
  });
  it('--from-label/--to-label: every label must match; a bare key matches any value', () => {
    expect(kept({ fromLabels: ['app=web'] })).toEqual(['DENIED', 'CONNECT', 'DNS_QUERY']);
    expect(kept({ fromLabels: ['app=web', 'tier=front'], toLabels: ['app=db'] })).toEqual(['DENIED']);
    expect(kept({ fromLabels: ['app=web', 'tier=back'] })).toEqual([]);
    expect(kept({ toLabels: ['reserved:world'] })).toEqual(['CONNECT']);
    expect(kept({ fromLabels: ['k8s:app'] })).toEqual(['DNS_ANSWER']);
  });
  it('--from-pod/--to-pod: namespace/name on the pod name label; no namespace means "default"', () => {
    expect(kept({ toPods: ['kube-system/coredns-7d8f'] })).toEqual(['DNS_QUERY']);
    expect(kept({ toPods: ['coredns-7d8f'] })).toEqual([]);
    expect(kept({ fromPods: ['kube-system/coredns-7d8f', 'default/nothing'] })).toEqual(['DNS_ANSWER']);
  });
  it('--from-ip/--to-ip: addresses and prefixes, both families', () => {
    expect(kept({ toIps: ['10.213.0.2'] })).toEqual(['DENIED']);
    expect(kept({ fromIps: ['10.213.0.0/24'] })).toEqual(['DENIED', 'CONNECT', 'DNS_QUERY', 'DNS_ANSWER', 'AUDIT_PING']);
    expect(kept({ fromIps: ['fd00::/64'] })).toEqual(['CLOSE6']);
    expect(kept({ toIps: ['93.184.216.0/24', 'fd00::2'] })).toEqual(['CONNECT', 'CLOSE6']);
  });
  it('--port: source or destination', () => {
    expect(kept({ ports: [53] })).toEqual(['DNS_QUERY', 'DNS_ANSWER']);
    expect(kept({ ports: [40512, 5432] })).toEqual(['DENIED', 'CLOSE6']);
  });
  it('fields combine with AND', () => {
    expect(kept({ verdicts: ['FORWARDED'], protocols: ['tcp'], fromLabels: ['app=web'] })).toEqual(['CONNECT']);
  });
  it.each<[FlowFilterSpec, string]>([
    [{ verdicts: ['DROP'] }, '--verdict: unknown verdict "DROP" (did you mean "DROPPED"?)'],
    [{ verdicts: ['FORWARDE'] }, '--verdict: unknown verdict "FORWARDE" (did you mean "FORWARDED"?)'],
    [{ verdicts: ['maybe'] }, '--verdict: unknown verdict "maybe": expected one of FORWARDED, DROPPED, AUDIT'],
    [{ types: ['policy'] }, '--type: unknown type "policy" (did you mean "policy-verdict"?)'],
    [{ protocols: ['gre'] }, '--protocol: unknown protocol "gre": expected one of tcp, udp, icmp, icmpv4, icmpv6'],
    [{ fromIps: ['10.0.0.0/33'] }, '--from-ip: expected an address or a CIDR prefix (10.0.0.1, 10.0.0.0/8, fd00::/64), got "10.0.0.0/33"'],
    [{ toIps: ['web'] }, '--to-ip: expected an address or a CIDR prefix (10.0.0.1, 10.0.0.0/8, fd00::/64), got "web"'],
    [{ fromLabels: ['=x'] }, '--from-label: expected key=value or key, got "=x"'],
    [{ toPods: ['a/b/c'] }, '--to-pod: expected [namespace/]pod-name, got "a/b/c"'],
    [{ ports: [70000] }, '--port: expected a port from 0 to 65535, got 70000'],
  ])('%j is refused: %s', (spec, message) => {
    expect(() => compileFlowFilter(spec)).toThrow(message);
  });
});

describe('--since', () => {
  const now = Date.parse('2026-11-23T02:00:00Z');
  it.each([['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['500ms', 500], ['2d', 172_800_000], ['1.5h', 5_400_000]])('duration %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseSince(text, now)).toBe(now - ms);
  });
  it.each([
    ['2026-11-23T01:00:00Z', '2026-11-23T01:00:00Z'],
    ['2026-11-23T01:00:00.250+01:00', '2026-11-23T00:00:00.250Z'],
    ['2026-11-23 01:00', '2026-11-23T01:00:00Z'],
    ['2026-11-23', '2026-11-23T00:00:00Z'],
    ['2026-11-23T01:02:03.123456789Z', '2026-11-23T01:02:03.123Z'],
  ])('time %s (UTC unless it says otherwise)', (text, iso) => {
    expect(parseSince(text, now)).toBe(Date.parse(iso));
  });
  it.each(['5', 'm5', '5 minutes', 'yesterday', '2026-13-01T00:00:00Z', '-5m'])('%s is refused', (text) => {
    expect(() => parseSince(text, now)).toThrow(`expected a duration (30s, 5m, 1h30m, 2d) or a time (2026-11-23T01:00:00Z), got ${JSON.stringify(text)}`);
  });
});

const lineOf = (e: ExportedFlow): string => JSON.stringify(e);
const timeOf = (e: ExportedFlow): number => Date.parse(e.time!);

describe('compact lines', () => {
  it.each<[string, ExportedFlow, string]>([
    ['a drop by a rule, with the process', DENIED,
      'Nov 23 01:02:03.456: 10.213.0.1:40512 (app=web,tier=front) -> 10.213.0.2:443 (app=db) policy-verdict egress DROPPED TCP by default/web-deny spec.egressDeny[0] /usr/bin/curl[4711]'],
    ['a connection to the world', CONNECT,
      'Nov 23 01:02:04.000: 10.213.0.1:40514 (app=web,tier=front) -> 93.184.216.34:443 (world) l4 connect egress FORWARDED TCP /usr/bin/curl[4711]'],
    ['a DNS query to a pod', DNS_QUERY,
      'Nov 23 01:02:05.000: 10.213.0.1:51000 (app=web,tier=front) -> 10.213.0.53:53 (kube-system/coredns-7d8f) dns query egress FORWARDED UDP example.com. A,AAAA /usr/bin/curl[4711]'],
    ['a DNS answer', DNS_ANSWER,
      'Nov 23 01:02:05.002: 10.213.0.53:53 (kube-system/coredns-7d8f) -> 10.213.0.1:51000 (app=web,tier=front) dns answer ingress FORWARDED UDP example.com. A NOERROR cname edge.example.net. 93.184.216.34 /usr/bin/curl[4711]'],
    ['an audited ping: no ports, ICMP type by name, no process', AUDIT_PING,
      'Nov 23 01:02:06.000: 10.213.0.254 (host) -> 10.213.0.1 (app=web,tier=front) policy-verdict ingress AUDIT (would drop) ICMPv4 EchoRequest by default deny of default/web-only (audit)'],
    ['a closed IPv6 connection with its bytes', CLOSE6,
      'Nov 23 01:02:07.000: [fd00::9]:55000 (cidr:fd00::/64) -> [fd00::2]:5432 (app=db) l4 close ingress FORWARDED TCP sent 5120 B received 320 B'],
  ])('%s', (_what, ev, line) => {
    expect(compactFlowLine(ev, timeOf(ev))).toBe(line);
  });
  it('an endpoint with no labels is named by its workload, else its identity', () => {
    const ev: ExportedFlow = { ...CONNECT, network_flow: { ...CONNECT.network_flow, source: { ...web, labels: ['container-id=abc'] }, destination: { identity: 4242, labels: [], ip: '10.0.0.9', port: 80 } } };
    expect(compactFlowLine(ev, 0)).toBe('?: 10.213.0.1:40512 (/system.slice/web.service) -> 10.0.0.9:80 (ID:4242) l4 connect egress FORWARDED TCP /usr/bin/curl[4711]');
  });
});

describe('table output', () => {
  it('aligns columns over the rows, the last column unpadded', () => {
    const t = new TableWriter(TABLE_HEADER);
    const rows = [DENIED, AUDIT_PING].map((e) => flowTableRow(e, timeOf(e)));
    t.fit(rows);
    const out = [t.line(TABLE_HEADER), ...rows.map((r) => t.line(r))];
    expect(out).toEqual([
      'TIME                 SOURCE                                 DESTINATION                      TYPE            VERDICT             SUMMARY',
      'Nov 23 01:02:03.456  10.213.0.1:40512 (app=web,tier=front)  10.213.0.2:443 (app=db)          policy-verdict  DROPPED             egress TCP by default/web-deny spec.egressDeny[0] /usr/bin/curl[4711]',
      'Nov 23 01:02:06.000  10.213.0.254 (host)                    10.213.0.1 (app=web,tier=front)  policy-verdict  AUDIT (would drop)  ingress ICMPv4 EchoRequest by default deny of default/web-only (audit)',
    ]);
  });
  it('a later, wider row widens its column without touching printed lines', () => {
    const t = new TableWriter(['A', 'B']);
    expect(t.line(['x', 'y'])).toBe('x  y');
    expect(t.line(['wide', 'y'])).toBe('wide  y');
    expect(t.line(['x', 'y'])).toBe('x     y');
  });
});

describe('flow history', () => {
  it('keeps the last N flows, oldest first, and answers since and last over the matches', () => {
    const h = new FlowHistory(4);
    for (const e of ALL) expect(h.pushLine(lineOf(e))).toBe(true);
    expect(h.size).toBe(4);
    expect(h.total).toBe(6);
    expect(h.query().map((r) => r.line)).toEqual([DNS_QUERY, DNS_ANSWER, AUDIT_PING, CLOSE6].map(lineOf));
    expect(h.query({ last: 2 }).map((r) => r.line)).toEqual([AUDIT_PING, CLOSE6].map(lineOf));
    expect(h.query({ since: timeOf(AUDIT_PING) }).map((r) => r.line)).toEqual([AUDIT_PING, CLOSE6].map(lineOf));
    const udp = compileFlowFilter({ protocols: ['udp'] });
    expect(h.query({ match: udp, last: 1 }).map((r) => r.line)).toEqual([lineOf(DNS_ANSWER)]);
    expect(h.query({ match: udp, since: timeOf(AUDIT_PING) })).toEqual([]);
  });
  it('keeps only the fields filters read, sharing the endpoint objects', () => {
    const h = new FlowHistory(2);
    h.push(DENIED.network_flow, lineOf(DENIED), 5);
    const r = h.query()[0]!;
    expect(Object.keys(r.fields).sort()).toEqual(['destination', 'protocol', 'source', 'type', 'verdict']);
    expect(r.fields.source).toBe(DENIED.network_flow.source);
    expect(r.time).toBe(5);
  });
  it('refuses lines that are not network flows', () => {
    const h = new FlowHistory(2);
    expect(h.pushLine('{"process_exec":{"process":{}},"time":"2026-11-23T01:00:00Z"}')).toBe(false);
    expect(h.pushLine('not json')).toBe(false);
    expect(h.pushLine('{"network_flow":{"type":"l4"}}')).toBe(false);
    expect(h.size).toBe(0);
  });
  it('followers get each new matching flow until they stop', () => {
    const h = new FlowHistory(8);
    const got: string[] = [];
    const stop = h.follow(compileFlowFilter({ verdicts: ['DROPPED', 'AUDIT'] }), (r) => got.push(r.line));
    for (const e of ALL) h.pushLine(lineOf(e));
    stop();
    h.pushLine(lineOf(DENIED));
    expect(got).toEqual([DENIED, AUDIT_PING].map(lineOf));
  });
  it('a size below 1 is refused', () => expect(() => new FlowHistory(0)).toThrow(/whole number ≥ 1/));
  it('parses the time of a line to the millisecond, and 0 when it has none', () => {
    expect(parseFlowLine(lineOf(DENIED))!.time).toBe(Date.parse('2026-11-23T01:02:03.456Z'));
    expect(parseFlowLine(JSON.stringify({ network_flow: DENIED.network_flow }))!.time).toBe(0);
  });
});

/** A client connection: what was written, whether it ended, and a backlog we can set. */
class FakeClient extends EventEmitter implements ObserveClient {
  out = '';
  ended = false;
  destroyed = false;
  writableLength = 0;
  write(chunk: string | Uint8Array): boolean {
    this.out += String(chunk);
    return true;
  }
  end(chunk?: unknown): this {
    if (typeof chunk === 'string') this.out += chunk;
    this.ended = true;
    return this;
  }
  lines(): string[] {
    return this.out.split('\n').filter((l) => l !== '');
  }
}

describe('the observe op', () => {
  const history = (): FlowHistory => {
    const h = new FlowHistory(16);
    for (const e of ALL) h.pushLine(lineOf(e));
    return h;
  };
  it('sends the matching flows of the ring as they were exported, then ends', () => {
    const c = new FakeClient();
    serveObserve(history(), { op: 'observe', filter: { types: ['dns'] }, last: 1 }, c as never);
    expect(c.lines()).toEqual([lineOf(DNS_ANSWER)]);
    expect(c.ended).toBe(true);
  });
  it('a bad filter gets one {error} line', () => {
    const c = new FakeClient();
    serveObserve(history(), { op: 'observe', filter: { verdicts: ['DROP'] } }, c as never);
    expect(c.lines()).toEqual([JSON.stringify({ error: '--verdict: unknown verdict "DROP" (did you mean "DROPPED"?)' })]);
    expect(c.ended).toBe(true);
  });
  it('follows new flows; a slow client loses flows and is told how many', () => {
    const h = history();
    const c = new FakeClient();
    serveObserve(h, { op: 'observe', filter: { verdicts: ['DROPPED'] }, since: timeOf(CLOSE6) + 1, follow: true }, c as never);
    expect(c.lines()).toEqual([]);
    expect(c.ended).toBe(false);
    h.pushLine(lineOf(DENIED));
    h.pushLine(lineOf(CONNECT)); // filtered out
    c.writableLength = 64 << 20; // the client stopped reading
    h.pushLine(lineOf(DENIED));
    h.pushLine(lineOf(DENIED));
    c.writableLength = 0;
    h.pushLine(lineOf(DENIED));
    const lines = c.lines();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(lineOf(DENIED));
    expect(JSON.parse(lines[1]!)).toMatchObject({ events_lost: { count: 2, reason: 'sink_backpressure', where: 'observe' } });
    expect(lines[2]).toBe(lineOf(DENIED));
    c.emit('close');
    h.pushLine(lineOf(DENIED));
    expect(c.lines()).toHaveLength(3); // unsubscribed on close
  });
});

const flags = (o: Partial<ObserveFlags>): ObserveFlags => ({
  socket: 's', output: 'compact', ...o,
});

describe('observe flags', () => {
  it('build the filter the agent gets; commas split repeatable values; protocols any case', () => {
    const p = planObserve(flags({ verdict: ['DROPPED,AUDIT'], protocol: ['TCP'], fromLabel: ['app=web', 'tier=front'], port: ['443'], since: '5m' }), 1_000_000);
    expect(p.filter).toEqual({ verdicts: ['DROPPED', 'AUDIT'], protocols: ['tcp'], fromLabels: ['app=web', 'tier=front'], ports: [443] });
    expect(p.since).toBe(1_000_000 - 300_000);
    expect(p.last).toBeUndefined();
  });
  it('from the agent with no since, last or follow: the last 20; from a file: everything', () => {
    expect(planObserve(flags({})).last).toBe(20);
    expect(planObserve(flags({ follow: true })).last).toBeUndefined();
    expect(planObserve(flags({ file: 'x.log' })).last).toBeUndefined();
  });
  it.each<[Partial<ObserveFlags>, string]>([
    [{ verdict: ['DROP'] }, '--verdict: unknown verdict "DROP" (did you mean "DROPPED"?)'],
    [{ output: 'yaml' }, '--output: expected compact, json or table, got "yaml"'],
    [{ port: ['https'] }, '--port: expected a port from 0 to 65535, got "https"'],
    [{ port: ['65536'] }, '--port: expected a port from 0 to 65535, got "65536"'],
    [{ last: 'ten' }, '--last: expected a whole number, got "ten"'],
    [{ since: 'soon' }, '--since: expected a duration (30s, 5m, 1h30m, 2d) or a time (2026-11-23T01:00:00Z), got "soon"'],
    [{ file: 'x', follow: true }, '--follow reads from the agent: it cannot be used with --file'],
    [{ type: ['l7'] }, '--type: unknown type "l7" (did you mean "l4"?)'],
  ])('%j: %s (exit 2)', (o, message) => {
    expect(() => planObserve(flags(o))).toThrow(expect.objectContaining({ message, exitCode: 2 }));
  });
});

// Keep the fixtures honest: they must type-check as FlowJson (the process block rides along in exports).
const _typed: FlowJson[] = ALL.map((e) => e.network_flow);
void _typed;
