import { describe, expect, it, vi } from 'vitest';
import { WallClock } from '../../agent/pipeline/clock.js';
import type { PalisadeEvent } from '../../agent/pipeline/events.js';
import { HookRegistry } from '../../agent/pipeline/hooks.js';
import { Pipeline } from '../../agent/pipeline/pipeline.js';
import { ProcessCache } from '../../agent/process/cache.js';
import type { Sink, SinkStats } from '../../agent/export/sink.js';
import { compactLine, viewOfEvent, viewOfJson } from '../../agent/export/compact.js';
import { FrameSource, execFrame, exitFrame, forkFrame, hookFrame } from '../helpers/records.js';

class MemorySink implements Sink {
  readonly name = 'memory';
  lines: string[] = [];
  events: PalisadeEvent[] = [];
  /** Compact lines, made in write() as the agent's sinks make them: a hook event's record is readable only then. */
  compact: string[] = [];
  write(ev: PalisadeEvent, line: Buffer, start: number, end: number): void {
    expect(line[end - 1]).toBe(10); // each line ends in "\n"
    this.lines.push(line.toString('utf8', start, end - 1));
    this.events.push(ev);
    this.compact.push(compactLine(viewOfEvent(ev)));
  }
  flush(): void {}
  takeDropped(): number {
    return 0;
  }
  stats(): SinkStats {
    return { name: this.name, written: this.lines.length, dropped: 0 };
  }
  async close(): Promise<void> {}
  json(): Record<string, any>[] {
    return this.lines.map((l) => JSON.parse(l));
  }
}

function setup(bufferBytes = 1 << 16) {
  const source = new FrameSource();
  const sink = new MemorySink();
  const cache = new ProcessCache({ ancestorsDepth: 3 });
  const hooks = new HookRegistry();
  let lost = 0;
  const p = new Pipeline({
    source, cache, sinks: [sink], clock: new WallClock(1_700_000_000_000_000_000n), nodeName: 'node1',
    hostNs: Array.from({ length: 10 }, (_, i) => 4026531830 + i), hooks, kernelLost: () => lost, bufferBytes,
  });
  return { source, sink, cache, hooks, p, setLost: (n: number) => (lost = n) };
}

describe('Pipeline', () => {
  it('turns exec, fork, exec and exit records into events with ancestry', () => {
    const { source, sink, p } = setup();
    source.push(
      execFrame({ pid: 100, ppid: 1, ktime: 10n, start: 5n, parentStart: 1n, binary: '/usr/bin/bash', args: ['bash', '-c', 'x y'], cwd: '/root', cgroup: '/user.slice' }),
      forkFrame(101, 100, 20n, 20n, 5n),
      execFrame({ pid: 101, ppid: 100, ktime: 30n, start: 20n, parentStart: 5n, binary: '/usr/bin/sh', args: ['sh', 'has space', ''], cwd: '/tmp', cgroup: '/' }),
      forkFrame(102, 101, 40n, 40n, 20n),
      execFrame({ pid: 102, ppid: 101, ktime: 50n, start: 40n, parentStart: 20n, binary: '/usr/bin/true', args: ['true'], cwd: '/tmp', cgroup: '/' }),
      exitFrame(102, 60n, 40n, 9),
      exitFrame(101, 70n, 20n, 3 << 8),
    );
    expect(p.poll()).toBe(7);
    const evs = sink.json();
    expect(evs.map((e) => Object.keys(e)[0])).toEqual(['process_exec', 'process_exec', 'process_exec', 'process_exit', 'process_exit']);
    const [bash, sh, tru, exitTrue, exitSh] = evs as any[];
    expect(bash.node_name).toBe('node1');
    expect(bash.time).toBe('2023-11-14T22:13:20.000000010Z');
    expect(bash.process_exec.process).toMatchObject({
      pid: 100, binary: '/usr/bin/bash', arguments: '-c "x y"', cwd: '/root', flags: 'execve',
      cgroup: { id: '4242', path: '/user.slice' }, cap: { effective: ['CAP_SYS_ADMIN'] },
    });
    expect(bash.process_exec.process.ns.uts).toEqual({ inum: 4026531830, is_host: true });
    expect(sh.process_exec.process.arguments).toBe('"has space" ""');
    expect(sh.process_exec.parent.exec_id).toBe(bash.process_exec.process.exec_id);
    expect(tru.process_exec.process.parent_exec_id).toBe(sh.process_exec.process.exec_id);
    expect(tru.process_exec.ancestors.map((a: any) => a.binary)).toEqual(['/usr/bin/bash']);
    expect(exitTrue.process_exit).toMatchObject({ status: 0, signal: 'SIGKILL' });
    expect(exitTrue.process_exit.process.exec_id).toBe(tru.process_exec.process.exec_id);
    expect(exitSh.process_exit.status).toBe(3);
    expect(Buffer.from(bash.process_exec.process.exec_id, 'base64').toString()).toBe('node1:10:100');
    expect(p.counters).toMatchObject({ received: 7, decoded: 7, exported: 5, decodeErrors: 0 });
    // The agent's own compact stdout and `palisade events -o compact` print the same lines.
    const fromEvents = sink.events.map((e) => compactLine(viewOfEvent(e)));
    expect(fromEvents).toEqual(sink.lines.map((l) => compactLine(viewOfJson(JSON.parse(l)))));
    expect(fromEvents[4]).toBe('💥 exit    [101] /usr/bin/sh "has space" "" 3');
  });

  it('counts malformed frames and exits of unknown processes without exporting them', () => {
    const { source, sink, p } = setup();
    const bad = execFrame({ pid: 1, ppid: 0, ktime: 1n, start: 1n, parentStart: 0n, binary: '/x', args: ['x'], cwd: '/', cgroup: '/' });
    bad.writeUInt16LE(60000, 8 + 160); // binary_len past the record
    const unknownType = exitFrame(1, 3n, 1n, 0);
    unknownType.writeUInt16LE(99, 8); // pal_hdr.type
    const short = Buffer.from(exitFrame(1, 4n, 1n, 0).subarray(0, 8 + 24));
    short.writeUInt32LE(20, 0); // a header and a bit: less than a pal_exit
    source.push(bad, exitFrame(999, 2n, 2n, 0), unknownType, short);
    p.poll();
    expect(sink.lines).toHaveLength(0);
    expect(p.counters).toMatchObject({ received: 4, decodeErrors: 3, unknownProcess: 1 });
  });

  it('drains in several rounds when the buffer is small, losing nothing', () => {
    const { source, sink, p } = setup(4096);
    source.push(execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }));
    for (let i = 0; i < 500; i++) source.push(forkFrame(1000 + i, 7, BigInt(10 + i), BigInt(10 + i), 1n), exitFrame(1000 + i, BigInt(20 + i), BigInt(10 + i), 0));
    p.poll();
    expect(sink.lines).toHaveLength(501);
    expect(sink.json().slice(1).every((e) => e.process_exit.process.flags === 'clone')).toBe(true);
  });

  it('decodes hook records through the registry: numbers, strings, socket addresses, actions', () => {
    const { source, sink, hooks, p } = setup();
    const id = hooks.register({
      event: 'process_tracepoint', policyName: 'pol', hookJson: '"subsys":"syscalls","event":"sys_enter_connect"',
      label: 'syscalls/sys_enter_connect', args: ['int', 'size_t', 'string', 'sockaddr'], message: 'm', tags: ['t'], mode: 'monitor',
    });
    const sa = Buffer.alloc(28);
    sa.writeUInt16LE(2, 0);
    sa.writeUInt16BE(8080, 2);
    Buffer.from([127, 0, 0, 1]).copy(sa, 4);
    source.push(
      execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }),
      hookFrame(7, 5n, 1n, id, [-5n, 4096n, Buffer.from('/etc/ünï'), sa], { action: 1, flags: 1 << (8 + 2) }),
      hookFrame(7, 5n, 1n, 99, [1n]),
    );
    p.poll();
    const ev = sink.json()[1]!.process_tracepoint;
    expect(ev).toMatchObject({
      subsys: 'syscalls', event: 'sys_enter_connect', policy_name: 'pol', message: 'm', tags: ['t'],
      action: 'KPROBE_ACTION_SIGKILL', enforced: false, policy_mode: 'monitor', truncated_args: [2],
    });
    expect(ev.args).toEqual([{ int_arg: -5 }, { size_arg: '4096' }, { string_arg: '/etc/ünï' }, { sockaddr_arg: { family: 'AF_INET', addr: '127.0.0.1', port: 8080 } }]);
    expect(p.counters.decodeErrors).toBe(1);
    const fromEvent = sink.compact[1]!;
    expect(fromEvent).toBe('🔌 connect [7] /bin/x -5 4096 /etc/ünï 127.0.0.1:8080 (monitor: would kill)');
    expect(compactLine(viewOfJson(JSON.parse(sink.lines[1]!)))).toBe(fromEvent);
  });

  it('writes strings from the record as they are, escaping what JSON needs; return values and file paths', () => {
    const { source, sink, hooks, p } = setup();
    const id = hooks.register({
      event: 'process_kprobe', policyName: 'pol', hookJson: '"function_name":"f"', label: 'f',
      args: ['string', 'string', 'string', 'file', 'path'], ret: 'long', message: '', tags: [], mode: 'enforce',
    });
    const strings = ['/etc/passwd', 'a"b\\c\n\u0001', 'caf\u00e9', '/tmp/x y', '/'];
    const bad = Buffer.from([0x61, 0xff, 0x62]); // not UTF-8: replaced, as toString does
    const ret = hookFrame(7, 5n, 1n, id, [...strings.slice(0, 2).map((t) => Buffer.from(t)), bad, Buffer.from(strings[3]!), Buffer.from(strings[4]!), 0n], { flags: 1 << 1 });
    ret.writeBigInt64LE(-2n, 8 + 48 + 8 * 5); // args[5]: the return value
    ret.writeUInt8(5, 8 + 38); // nargs
    source.push(execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }), ret);
    p.poll();
    const ev = sink.json()[1]!.process_kprobe;
    expect(ev.args).toEqual([
      { string_arg: strings[0] }, { string_arg: strings[1] }, { string_arg: 'a\ufffdb' }, { file_arg: { path: strings[3] } }, { path_arg: { path: strings[4] } },
    ]);
    expect(ev.return).toEqual({ long_arg: '-2' });
    expect(sink.compact[1]).toBe(`🔍 f [7] /bin/x /etc/passwd ${strings[1]} a\ufffdb /tmp/x y / = -2`);
  });

  it('lets a hook event read its record only until the next drain', () => {
    const { source, sink, hooks, p } = setup();
    const id = hooks.register({ event: 'process_tracepoint', policyName: 'pol', hookJson: '"subsys":"s","event":"e"', label: 's/e', args: ['int'], message: '', tags: [], mode: 'enforce' });
    source.push(execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }), hookFrame(7, 5n, 1n, id, [3n]));
    p.poll();
    const ev = sink.events[1]!;
    if (ev.type !== 'process_tracepoint') throw new Error(`expected a hook event, got ${ev.type}`);
    expect(ev.argsText).toBe('3'); // made once, in write(): kept
    source.push(hookFrame(7, 6n, 1n, id, [4n]));
    p.poll();
    expect(sink.compact[2]).toContain(' 4');
    expect(ev.time).toBe('2023-11-14T22:13:20.000000005Z'); // the time is the event's own
    expect(() => ev.record()).toThrow(/after the next drain/);
  });

  it('keeps a removed hook decodable while its records may still be in the ring, and never reuses its id', () => {
    vi.useFakeTimers();
    try {
      const { source, sink, hooks, p } = setup();
      const info = { event: 'process_tracepoint', policyName: 'gone', hookJson: '"subsys":"s","event":"e"', label: 's/e', args: ['int'], message: '', tags: [] as string[], mode: 'enforce' } as const;
      const id = hooks.register({ ...info, args: [...info.args] });
      hooks.unregister(id);
      expect(hooks.register({ ...info, args: ['int'] })).not.toBe(id);
      source.push(
        execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }),
        hookFrame(7, 5n, 1n, id, [3n]),
      );
      p.poll();
      expect(sink.json()[1]!.process_tracepoint.policy_name).toBe('gone');
      vi.advanceTimersByTime(60_000);
      source.push(hookFrame(7, 6n, 1n, id, [3n]));
      p.poll();
      expect(sink.lines).toHaveLength(2);
      expect(p.counters.decodeErrors).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a hook record whose string runs past the record, or whose argument count is not its hook\'s, as a decode error', () => {
    const { source, sink, hooks, p } = setup();
    const id = hooks.register({ event: 'process_tracepoint', policyName: 'pol', hookJson: '"subsys":"s","event":"e"', label: 's/e', args: ['string'], message: '', tags: [], mode: 'enforce' });
    const bad = hookFrame(7, 5n, 1n, id, [Buffer.from('abc')]);
    bad.writeBigUInt64LE((500n << 32n) | 0n, 8 + 48); // len 500 in a 3-byte data[]
    source.push(
      execFrame({ pid: 7, ppid: 1, ktime: 1n, start: 1n, parentStart: 0n, binary: '/bin/x', args: ['x'], cwd: '/', cgroup: '/' }), bad,
      hookFrame(7, 5n, 1n, id, [Buffer.from('abc'), Buffer.from('d')]), hookFrame(7, 5n, 1n, id, []), hookFrame(7, 5n, 1n, id, [Buffer.from('ok')]),
    );
    p.poll();
    expect(sink.lines).toHaveLength(2);
    expect(sink.json()[1]!.process_tracepoint.args).toEqual([{ string_arg: 'ok' }]);
    expect(p.counters.decodeErrors).toBe(3);
    expect(p.counters.decoded).toBe(2); // the exec and the good one: a bad record is an error, not also decoded
  });

  it('reports kernel losses as an events_lost event with the count', () => {
    const { sink, p, setLost } = setup();
    setLost(12);
    p.checkLosses();
    p.checkLosses();
    expect(sink.json()).toEqual([expect.objectContaining({ events_lost: { count: 12, reason: 'ring_buffer_full', where: 'kernel' } })]);
    expect(p.counters.lost).toBe(12);
  });
});
