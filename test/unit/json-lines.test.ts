// The JSON writer and the sinks that take its bytes: shapes, options, caches, buffer growth.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSink } from '../../agent/export/file.js';
import { JsonLines, type JsonOptions } from '../../agent/export/json.js';
import type { Sink } from '../../agent/export/sink.js';
import { StreamSink } from '../../agent/export/stream.js';
import { WallClock } from '../../agent/pipeline/clock.js';
import type { PalisadeEvent, ProcessExecEvent, ProcessHookEvent } from '../../agent/pipeline/events.js';
import { DrainBuffer, HookEvent } from '../../agent/pipeline/hook-event.js';
import { HookRegistry } from '../../agent/pipeline/hooks.js';
import { FRAME_HEADER } from '../../agent/pipeline/layout.js';
import { hookFrame } from '../helpers/records.js';
import { Process, makeExecId, type ProcessInit } from '../../agent/process/process.js';

const HOST_NS = Array.from({ length: 10 }, (_, i) => 4026531830 + i);

function proc(pid: number, over: Partial<ProcessInit> = {}): Process {
  return new Process({
    execId: makeExecId('n', String(pid), pid), pid, tid: pid, ppid: 1,
    creds: { uid: 0, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 },
    auid: 4294967295, binary: `/bin/p${pid}`, args: [`p${pid}`, 'a b'], argsTruncated: false, cwd: '/tmp/é',
    origin: 'execve', startTime: '2026-01-01T00:00:00.000000000Z', startBoottime: pid * 1000,
    cgroupId: '7', cgroupPath: '/x', caps: { permitted: [1, 0], effective: [0x200000, 0], inheritable: [0, 0] },
    ns: Uint32Array.from(HOST_NS, (v, i) => (i === 5 ? v + 1 : v)), ...over,
  });
}

const hooks = new HookRegistry();
const HOOK_ID = hooks.register({
  event: 'process_kprobe', policyName: 'p', hookJson: '"function_name":"f"', label: 'f', args: ['int'], message: '', tags: [], mode: 'enforce',
});
const CLOCK = new WallClock(1_700_000_000_000_000_000n);

/** A hook event as the pipeline makes one: over a pal_hook record in a drain buffer. */
function hookEvent(p: Process, parent: Process | null, arg: number, ktime = 1_000_000_001n): ProcessHookEvent {
  p.parent = parent;
  const frame = hookFrame(p.pid, ktime, BigInt(p.startBoottime), HOOK_ID, [BigInt(arg)]);
  const drain = new DrainBuffer(frame.length);
  frame.copy(drain.buf);
  return new HookEvent(hooks.get(HOOK_ID)!, p, CLOCK, drain, FRAME_HEADER);
}

function execEvent(p: Process, parent: Process | null, ancestors: Process[] = []): ProcessExecEvent {
  return { type: 'process_exec', time: '2026-01-01T00:00:02.000000002Z', process: p, parent, ancestors };
}

function lineOf(w: JsonLines, ev: PalisadeEvent): string {
  const start = w.append(ev);
  return w.buf.toString('utf8', start, w.pos);
}

const opts = (o: Partial<JsonOptions> = {}): JsonOptions => ({ nodeName: 'n"1', hostNs: HOST_NS, processCred: false, processNs: false, ...o });

describe('JsonLines', () => {
  it('writes the documented shape and field order, with credentials and namespaces only when enabled', () => {
    const parent = proc(10);
    const child = proc(11);
    child.parent = parent;
    const plain = JSON.parse(lineOf(new JsonLines(opts()), execEvent(child, parent, [parent])));
    expect(Object.keys(plain)).toEqual(['process_exec', 'node_name', 'time']);
    expect(plain.node_name).toBe('n"1');
    expect(Object.keys(plain.process_exec.process)).toEqual([
      'exec_id', 'pid', 'tid', 'ppid', 'uid', 'auid', 'binary', 'arguments', 'cwd', 'flags', 'start_time', 'parent_exec_id', 'cgroup',
    ]);
    expect(plain.process_exec.process).toMatchObject({ cwd: '/tmp/é', arguments: '"a b"', parent_exec_id: parent.execId });
    expect(plain.process_exec.ancestors).toEqual([JSON.parse(parent.slimJson())]);

    const full = JSON.parse(lineOf(new JsonLines(opts({ processCred: true, processNs: true })), execEvent(child, parent)));
    const block = full.process_exec.process;
    expect(Object.keys(block).slice(-4)).toEqual(['cgroup', 'process_credentials', 'cap', 'ns']);
    expect(block.cap).toEqual({ permitted: ['CAP_CHOWN'], effective: ['CAP_SYS_ADMIN'], inheritable: [] });
    expect(block.ns.uts).toEqual({ inum: HOST_NS[0], is_host: true });
    expect(block.ns.net).toEqual({ inum: HOST_NS[5]! + 1, is_host: false });
    expect(block).toEqual(JSON.parse(child.json(HOST_NS)));
    expect(Object.keys(JSON.parse(lineOf(new JsonLines(opts({ processNs: true })), execEvent(child, null))).process_exec.process).slice(-2)).toEqual(['cgroup', 'ns']);
  });

  it('keeps values many processes share once, and never mixes up different ones', () => {
    const a = proc(20);
    const b = proc(21);
    const c = proc(22, { creds: { uid: 1, gid: 0, euid: 0, egid: 0, suid: 0, sgid: 0, fsuid: 0, fsgid: 0 }, ns: Uint32Array.from(HOST_NS) });
    expect(b.creds).toBe(a.creds);
    expect(b.caps).toBe(a.caps);
    expect(b.ns).toBe(a.ns);
    expect(b.cwd).toBe(a.cwd);
    expect(c.creds.uid).toBe(1);
    expect(c.ns).not.toBe(a.ns);
    const w = new JsonLines(opts({ processCred: true, processNs: true }));
    const [ja, jc] = [a, c].map((p) => JSON.parse(lineOf(w, execEvent(p, null))).process_exec.process);
    expect(ja.process_credentials.uid).toBe(0);
    expect(jc.process_credentials.uid).toBe(1);
    expect([ja.ns.net.is_host, jc.ns.net.is_host]).toEqual([false, true]);
  });

  it('caches the blocks of processes that fire hooks, never serving one process the blocks of another', () => {
    const w = new JsonLines(opts());
    const parent = proc(1);
    const a = proc(5);
    const b = proc(5 + 1024); // same cache slot
    const first = lineOf(w, hookEvent(a, parent, 1));
    expect(lineOf(w, hookEvent(a, parent, 2))).toBe(first.replace('"int_arg":1', '"int_arg":2'));
    const other = JSON.parse(lineOf(w, hookEvent(b, null, 3)));
    expect(other.process_kprobe.process.pid).toBe(5 + 1024);
    expect(other.process_kprobe.parent).toBeUndefined();
    const again = JSON.parse(lineOf(w, hookEvent(a, parent, 4)));
    expect(again).toEqual({
      process_kprobe: {
        process: JSON.parse(a.coreJson() + '}'), parent: JSON.parse(parent.coreJson() + '}'),
        function_name: 'f', args: [{ int_arg: 4 }], action: 'KPROBE_ACTION_POST', policy_name: 'p',
      },
      node_name: 'n"1', time: '2023-11-14T22:13:21.000000001Z',
    });
  });

  it('writes times from the clock\'s bytes: a hook event\'s kernel time, the time formatted last; any other as text', () => {
    const w = new JsonLines({ ...opts(), clock: CLOCK });
    expect(JSON.parse(lineOf(w, hookEvent(proc(2), null, 1, 123_456_789n))).time).toBe('2023-11-14T22:13:20.123456789Z');
    expect(JSON.parse(lineOf(w, hookEvent(proc(2), null, 1, 3_000_000_000n))).time).toBe('2023-11-14T22:13:23.000000000Z');
    const t = CLOCK.formatHiLo(0, 999_999_999);
    const exec = execEvent(proc(3), null);
    expect(JSON.parse(lineOf(w, { ...exec, time: t })).time).toBe('2023-11-14T22:13:20.999999999Z');
    const other = '2026-01-01T00:00:01.000000001Z';
    expect(JSON.parse(lineOf(w, { ...exec, time: other })).time).toBe(other);
    // A stamp in between: the text formatted before it is no longer the clock's last.
    const before = CLOCK.formatHiLo(0, 5);
    CLOCK.stamp(0, 6);
    expect(JSON.parse(lineOf(w, { ...exec, time: before })).time).toBe('2023-11-14T22:13:20.000000005Z');
  });

  it('grows for a line larger than its buffer; ranges already handed out stay valid', () => {
    const w = new JsonLines(opts(), 256);
    const small = lineOf(w, hookEvent(proc(3), null, 1));
    const oldBuf = w.buf;
    const start = w.append(hookEvent(proc(4, { args: ['p', 'y'.repeat(5000)] }), null, 2));
    expect(w.buf).not.toBe(oldBuf);
    expect(oldBuf.toString('utf8', 0, Buffer.byteLength(small))).toBe(small);
    const big = JSON.parse(w.buf.toString('utf8', start, w.pos));
    expect(big.process_kprobe.process.arguments).toHaveLength(5000);
  });
});

describe('sinks on the JSON bytes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** Feeds events through one JsonLines into the sinks, as the pipeline does, flushing every `every`. */
  function feed(sinks: Sink[], events: PalisadeEvent[], w = new JsonLines(opts()), every = 3): string[] {
    const expected: string[] = [];
    events.forEach((ev, i) => {
      const start = w.append(ev);
      expected.push(w.buf.toString('utf8', start, w.pos));
      for (const s of sinks) s.write(ev, w.buf, start, w.pos);
      if ((i + 1) % every === 0) {
        for (const s of sinks) s.flush();
        w.reset();
      }
    });
    for (const s of sinks) s.flush();
    return expected;
  }

  it('file sinks write the bytes as they are (json), or a line per event from the format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pal-sink-'));
    dirs.push(dir);
    const json = new FileSink(join(dir, 'j.log'), { maxBytes: 0, maxFiles: 0 }, 'json');
    const compact = new FileSink(join(dir, 'c.log'), { maxBytes: 0, maxFiles: 0 }, 'compact');
    const fn = new FileSink(join(dir, 'f.log'), { maxBytes: 0, maxFiles: 0 }, (_ev, j) => `<${j}>`);
    const events = [1, 2, 3, 4, 5, 6, 7].map((pid) => execEvent(proc(pid), null));
    // A buffer that must grow mid-batch: the json sink's earlier range stays in the old buffer.
    const expected = feed([json, compact, fn], events, new JsonLines(opts(), 1024), 4);
    for (const s of [json, compact, fn]) await s.close();
    expect(readFileSync(join(dir, 'j.log'), 'utf8')).toBe(expected.join(''));
    expect(readFileSync(join(dir, 'c.log'), 'utf8').split('\n')[0]).toBe('🚀 process [1] /bin/p1 "a b"');
    expect(readFileSync(join(dir, 'f.log'), 'utf8')).toBe(expected.map((l) => `<${l.trimEnd()}>\n`).join(''));
    expect(json.stats()).toMatchObject({ written: 7, dropped: 0 });
  });

  it('stream sinks copy the bytes: the pipeline reuses its buffer before the stream sends them', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (d: Buffer) => chunks.push(d));
    const sink = new StreamSink('client:1', out, 'json');
    const expected = feed([sink], [1, 2, 3, 4, 5].map((pid) => execEvent(proc(pid), null)), new JsonLines(opts()), 2);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(chunks).toString()).toBe(expected.join(''));
    expect(sink.stats()).toMatchObject({ written: 5, dropped: 0 });
  });
});
