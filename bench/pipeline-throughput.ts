// Pipeline throughput: the agent's real Pipeline (drain → decode → process cache → JSON → FileSink)
// consuming pal_hook records from bpf/test/bench_producer.bpf.c, written by build/bench/producer's
// getppid() calls. bench/c/consumer.c is the same thing in C; bench/pipeline-throughput.sh runs
// both side by side and prints the ratio.
//
//   node dist/bench/pipeline-throughput.js [--calls N] [--per-call K] [--rate CALLS_PER_S]
//        [--ring-mb MB] [--poll-ms MS] [--producer-cpu CPU] [--out FILE]
//        [--budget FRAMES] [--buffer-kb KB]  (PipelineOptions pollBudget and bufferBytes: default
//                                             to the agent's, 200000 frames and 4096 KB)
//        [--sink file|buffer|none]   (file: the agent's FileSink, the benchmark; the others are
//                                     diagnostics: a Buffer-copy sink, and no output at all)
//
// Prints one line of key=value figures (same keys as the C consumer). Pin it with taskset.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfObject, RingBuffer, bootTimeOffsetNs, packageRoot } from '../native/index.js';
import { closeSync, openSync, writeSync } from 'node:fs';
import { FileSink } from '../agent/export/file.js';
import type { Sink, SinkStats } from '../agent/export/sink.js';
import type { PalisadeEvent } from '../agent/pipeline/events.js';
import { WallClock } from '../agent/pipeline/clock.js';
import { HookRegistry } from '../agent/pipeline/hooks.js';
import { Pipeline } from '../agent/pipeline/pipeline.js';
import { ProcessCache } from '../agent/process/cache.js';
import { findCgroup2Mount, hostNamespaces, readProc, seedCache } from '../agent/process/procfs.js';

const STAT_LOST_HOOK = 3;
const STAT_SENT = 4;

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${a}: use --name value`);
    out[a.slice(2)] = argv[++i]!;
  }
  return out;
}

/**
 * For comparison only (--sink buffer): copies each line straight into a preallocated Buffer and
 * writes it out when full, instead of joining the lines into one string first (as FileSink does).
 */
class BufferSink implements Sink {
  readonly name = 'bench-buffer';
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(4 << 20);
  private used = 0;
  private written = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'a');
  }

  write(_ev: PalisadeEvent, json: string): void {
    if (this.buf.length - this.used < json.length * 3 + 1) this.flush();
    if (json.length * 3 + 1 > this.buf.length) {
      const b = Buffer.from(json + '\n');
      writeSync(this.fd, b);
    } else {
      this.used += this.buf.write(json, this.used);
      this.buf[this.used++] = 10;
    }
    this.written++;
  }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  takeDropped(): number {
    return 0;
  }

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: 0 };
  }

  async close(): Promise<void> {
    this.flush();
    closeSync(this.fd);
  }
}

/** For comparison only (--sink none): counts the events, writes nothing. */
class CountSink implements Sink {
  readonly name = 'bench-count';
  private n = 0;
  write(): void {
    this.n++;
  }
  flush(): void {}
  takeDropped(): number {
    return 0;
  }
  stats(): SinkStats {
    return { name: this.name, written: this.n, dropped: 0 };
  }
  async close(): Promise<void> {}
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

async function main(): Promise<void> {
  const dir = packageRoot();
  const args = parseArgs(process.argv.slice(2));
  const calls = Number(args.calls ?? 2_000_000);
  const perCall = Number(args['per-call'] ?? 1);
  const rate = Number(args.rate ?? 0);
  const ringMb = Number(args['ring-mb'] ?? 256);
  const pollMs = Number(args['poll-ms'] ?? 1);
  const producerCpu = args['producer-cpu'];
  const budget = args.budget !== undefined ? Number(args.budget) : undefined;
  const bufferKb = args['buffer-kb'] !== undefined ? Number(args['buffer-kb']) : undefined;
  const out = args.out ?? '/dev/null';
  const nodeName = 'bench';

  // The producer waits on stdin for the go byte: its pid goes into the filter before load.
  const child = spawn(join(dir, 'build/bench/producer'), [String(calls), String(rate)], { stdio: ['pipe', 'ignore', 'inherit'] });
  await new Promise<void>((res, rej) => {
    child.once('spawn', res);
    child.once('error', rej);
  });
  const pid = child.pid!;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  if (producerCpu !== undefined) execFileSync('taskset', ['-pc', producerCpu, String(pid)], { stdio: 'ignore' });

  try {
    const obj = BpfObject.open(join(dir, 'build/bpf/bench_producer.bpf.o'));
    obj.setConst('cfg_target_tgid', u32(pid));
    obj.setConst('cfg_records_per_call', u32(perCall));
    obj.setMapMaxEntries('pal_events', ringMb << 20);
    obj.load();
    const link = obj.attach('bench_produce');
    const stats = obj.map('pal_stats');
    const statU64 = (i: number): number => Number(stats.sumPerCpuU64(u32(i)) ?? 0n);
    const ring = new RingBuffer(obj.map('pal_events'));

    // The process cache as the agent seeds it: this process, then the producer as its child.
    const clock = new WallClock(bootTimeOffsetNs());
    const cache = new ProcessCache();
    const cg = findCgroup2Mount();
    const seeded = [process.pid, pid].map((p) => {
      const e = readProc(p, cg);
      if (e === undefined) throw new Error(`pid ${p} vanished from /proc`);
      return e;
    });
    const hostNs = hostNamespaces();
    seedCache(cache, seeded, nodeName, clock, hostNs);

    const hooks = new HookRegistry();
    hooks.register({
      event: 'process_tracepoint', policyName: 'bench', hookJson: '"subsys":"syscalls","event":"sys_enter_getppid"',
      label: 'syscalls/sys_enter_getppid', args: ['int', 'ulong'], message: '', tags: [], mode: 'enforce',
    });
    // The agent's FileSink by default; the others only to show where the time goes.
    const sinkKind = args.sink ?? 'file';
    const sink: Sink =
      sinkKind === 'file' ? new FileSink(out, { maxBytes: 0, maxFiles: 0 }, (_ev, json) => json)
      : sinkKind === 'buffer' ? new BufferSink(out)
      : sinkKind === 'none' ? new CountSink()
      : (() => { throw new Error(`--sink ${sinkKind}: expected file, buffer or none`); })();
    const pipeline = new Pipeline({
      source: ring, cache, sinks: [sink], clock, nodeName, hostNs, hooks,
      kernelLost: () => statU64(STAT_LOST_HOOK),
      ...(budget !== undefined ? { pollBudget: budget } : {}),
      ...(bufferKb !== undefined ? { bufferBytes: bufferKb * 1024 } : {}),
    });

    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    child.stdin!.end('g');
    let idle = 0;
    let peakBacklog = 0; // bytes waiting in the ring buffer, sampled before each drain
    let polls = 0;
    let done = false;
    for (;;) {
      const backlog = ring.available();
      if (backlog > peakBacklog) peakBacklog = backlog;
      const n = pipeline.poll();
      polls++;
      if (n > 0) continue;
      if (done) break;
      if (exited) {
        done = true; // one more pass for what it wrote last
        continue;
      }
      idle++;
      await sleep(pollMs); // no wake-ups (BPF_RB_NO_WAKEUP): drain on a timer when idle
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const c = pipeline.counters;
    const lost = statU64(STAT_LOST_HOOK);
    const written = sink.stats();
    const events = written.written; // lines that reached the file
    console.log(
      `consumer=js sink=${sinkKind} events=${events} lost=${lost} sent=${statU64(STAT_SENT)} seconds=${seconds.toFixed(3)} ` +
        `events_per_s=${Math.round(events / seconds)} received=${c.received} decoded=${c.decoded} ` +
        `unknown=${c.unknownProcess} bad=${c.decodeErrors} sink_written=${written.written} sink_dropped=${written.dropped} ` +
        `cpu_s=${((cpu.user + cpu.system) / 1e6).toFixed(3)} idle_polls=${idle} polls=${polls} ` +
        `peak_backlog_mb=${(peakBacklog / 1048576).toFixed(1)} ring_mb=${ringMb} ` +
        `rss_mb=${(process.memoryUsage().rss / 1048576).toFixed(0)}`,
    );
    await sink.close();
    link.destroy();
    ring.close();
    obj.close();
  } finally {
    if (!exited) child.kill('SIGKILL');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
