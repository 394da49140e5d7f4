// The agent: loads the process sensor, seeds the cache from /proc, runs the pipeline on a timer,
// serves the local socket, and on stop detaches everything and flushes every sink.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BpfObject, RingBuffer, bootTimeOffsetNs, probeFeatures, type BpfLink, type BpfMap } from '../native/index.js';
import { LocalServer } from './api/local.js';
import type { AgentConfig } from './config/config.js';
import { FileSink } from './export/file.js';
import type { Sink, SinkStats } from './export/sink.js';
import { StreamSink } from './export/stream.js';
import { WallClock } from './pipeline/clock.js';
import { STAT_NAMES } from './pipeline/layout.js';
import { Pipeline, type PipelineCounters } from './pipeline/pipeline.js';
import { ProcessCache, type ProcessCacheStats } from './process/cache.js';
import { hostNamespaces, scanProc, seedCache } from './process/procfs.js';
import { HookRegistry } from './pipeline/hooks.js';
import type { LocalHandlers, PolicyRequest } from './api/local.js';
import { PolicyManager } from '../tracing/manager.js';
import { readTracepointFormat } from '../tracing/compile/tracefs.js';
import { SHARED_MAPS, type SharedMaps } from '../tracing/sensor/hook.js';
import { formatPolicyError } from '../tracing/policy/index.js';
import { handleEndpointRequest } from './api/endpoints.js';
import { serveObserve } from './api/observe.js';
import { NetworkService, type NetpolRequest } from './network/service.js';
import { FlowHistorySink } from './network/history-sink.js';

export class AgentStartError extends Error {}

export interface AgentStatus {
  version: string;
  node_name: string;
  pid: number;
  uptime_seconds: number;
  programs: string[];
  ring_buffer_bytes: number;
  events: PipelineCounters;
  kernel: Record<string, number>;
  process_cache: ProcessCacheStats;
  sinks: SinkStats[];
  clients: number;
  /** Network policy: verdict and packet counters of the datapath, policies and workloads; null when off. */
  network: Record<string, number> | null;
  /** The agent's memory in bytes: resident set, V8 heap, and buffers outside it (rings are in rss only). */
  memory: { rss: number; heap_used: number; heap_total: number; array_buffers: number; external: number };
}

export const VERSION = '0.1.0';

function memoryStatus(): AgentStatus['memory'] {
  const m = process.memoryUsage();
  return { rss: m.rss, heap_used: m.heapUsed, heap_total: m.heapTotal, array_buffers: m.arrayBuffers, external: m.external };
}
const SENSOR_PROGRAMS = ['pal_exec', 'pal_fork', 'pal_exit'];


export class Agent {
  private obj: BpfObject | null = null;
  private links: BpfLink[] = [];
  private stats: BpfMap | null = null;
  private pipeline: Pipeline | null = null;
  private policies: PolicyManager | null = null;
  private network: NetworkService | null = null;
  private readonly hooks = new HookRegistry();
  private server: LocalServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly cache: ProcessCache;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | null = null;

  constructor(private readonly cfg: AgentConfig, private readonly log: Logger) {
    this.cache = new ProcessCache({
      maxEntries: cfg.processCache.maxEntries,
      ancestorsDepth: cfg.processCache.ancestorsDepth,
      graceMs: cfg.processCache.gcGraceSeconds * 1000,
    });
  }

  /**
   * The feature probe's attach kinds, less those named in PALISADE_DISABLE_ATTACH (comma-separated,
   * e.g. "kprobe"): a test switch that makes the compiler take a fallback (kprobe → fentry) on a
   * kernel that has both. See docs/vm.md.
   */
  private attachKinds(): Record<string, { ok: boolean; reason?: string }> {
    const attach = { ...probeFeatures().attach };
    const disabled = (process.env.PALISADE_DISABLE_ATTACH ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '');
    for (const kind of disabled) attach[kind] = { ok: false, reason: 'disabled by PALISADE_DISABLE_ATTACH' };
    if (disabled.length > 0) this.log.warn({ disabled }, 'attach kinds disabled by PALISADE_DISABLE_ATTACH');
    return attach;
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    const objPath = join(cfg.bpfDir, 'process.bpf.o');
    if (!existsSync(objPath)) {
      throw new AgentStartError(`BPF object not found: ${objPath} (build it with ./scripts/setup.sh, or point --bpf-dir at it)`);
    }
    const obj = BpfObject.open(objPath);
    this.obj = obj;
    obj.setMapMaxEntries('pal_events', cfg.ringBufferBytes);
    obj.load();
    // Attach before reading /proc: whatever starts meanwhile waits in the ring buffer.
    for (const prog of SENSOR_PROGRAMS) this.links.push(obj.attach(prog));
    this.stats = obj.map('pal_stats');
    this.log.info({ programs: SENSOR_PROGRAMS, ring_buffer_bytes: cfg.ringBufferBytes }, 'process sensor attached');

    const clock = new WallClock(bootTimeOffsetNs());
    const hostNs = hostNamespaces();
    // Processes already running: so that their children and exits resolve.
    const running = scanProc();
    seedCache(this.cache, running, cfg.nodeName, clock, hostNs);
    this.log.info({ processes: running.length }, 'process cache seeded from /proc');

    const sinks: Sink[] = [];
    const stdoutMode = cfg.export.stdout === 'auto' ? (process.stdout.isTTY ? 'compact' : 'json') : cfg.export.stdout;
    if (stdoutMode !== 'none') sinks.push(new StreamSink('stdout', process.stdout, stdoutMode));
    const f = cfg.export.file;
    if (f) {
      sinks.push(new FileSink(f.path, { maxBytes: f.maxSizeMb * 1024 * 1024, maxFiles: f.maxFiles }, f.format));
      this.log.info({ path: f.path, max_size_mb: f.maxSizeMb, max_files: f.maxFiles }, 'exporting to file');
    }

    const shared = Object.fromEntries(SHARED_MAPS.map((m) => [m, obj.map(m)])) as SharedMaps;
    this.policies = new PolicyManager({
      shared,
      registry: this.hooks,
      // The feature probe picks each hook's attach method (kprobe, else fentry) or names what is missing.
      env: { tracepointFormat: readTracepointFormat, hostNs, attach: this.attachKinds() },
      processes: () => this.cache.entries(),
    });
    if (cfg.network.enabled) {
      const cgroupRoot = probeFeatures().cgroup2Path;
      if (!cgroupRoot) throw new AgentStartError('network policy needs cgroup v2, which is not mounted here (or run with --no-network)');
      try {
        this.network = new NetworkService({
          shared, marks: this.policies.marks, cgroupRoot, log: this.log,
          labelsFile: cfg.network.workloadsFile || null, historySize: cfg.network.historySize,
        });
        sinks.push(new FlowHistorySink(this.network.history));
        this.policies.useWorkloads(this.network.workloadSource());
      } catch (e) {
        // A kernel that refuses the network programs costs network policy, not the agent.
        const err = e as Error & { libbpfLog?: string };
        this.log.error({ err: err.message, verifier: err.libbpfLog?.trim().split('\n').slice(-6) }, 'network policy off: the network datapath did not load');
      }
    }

    const ring = new RingBuffer(obj.map('pal_events'));
    const pipeline = new Pipeline({
      source: ring,
      cache: this.cache,
      sinks,
      clock,
      nodeName: cfg.nodeName,
      hostNs,
      processCred: cfg.enableProcessCred,
      processNs: cfg.enableProcessNs,
      hooks: this.hooks,
      ...(this.network ? { network: this.network } : {}),
      // Bounded work per poll keeps the local API (policy add, status) answering under a flood.
      pollBudget: 16_384,
      kernelLost: () => this.kernelStats().lost,
    });
    this.pipeline = pipeline;
    pipeline.poll();

    if (this.network) {
      this.network.start(cfg.network.policyDir || null);
      this.log.info({ policies: this.network.request({ op: 'netpol_list' }) }, 'network datapath attached at the cgroup root');
    }
    if (cfg.policyDir && existsSync(cfg.policyDir)) {
      const r = this.policies.addDir(cfg.policyDir);
      for (const e of r.errors) this.log.error({ policy_error: e }, `policy rejected: ${formatPolicyError(e)}`);
      this.log.info({ dir: cfg.policyDir, loaded: r.added, rejected: r.errors.length }, 'tracing policies loaded');
    } else if (cfg.policyDir) {
      this.log.warn({ dir: cfg.policyDir }, 'policy folder not found: no tracing policies loaded');
    }

    this.server = new LocalServer(cfg.socket, {
      status: () => this.status(),
      policy: (req) => this.policyRequest(req),
      subscribe: (sink) => pipeline.addSink(sink),
      unsubscribe: (sink) => pipeline.removeSink(sink),
      ...(this.network ? this.networkHandlers(this.network) : {}),
    });
    await this.server.listen();
    this.log.info({ socket: cfg.socket }, 'local API listening');

    this.timers.push(setInterval(() => this.guard('drain', () => pipeline.poll()), cfg.drainIntervalMs));
    this.timers.push(
      setInterval(() => this.guard('housekeeping', () => {
        pipeline.poll();
        const before = pipeline.counters.lost + pipeline.counters.sinkDropped;
        pipeline.checkLosses();
        const lostNow = pipeline.counters.lost + pipeline.counters.sinkDropped - before;
        if (lostNow > 0) this.log.warn({ lost: lostNow, kernel: pipeline.counters.lost, sinks: pipeline.counters.sinkDropped }, 'events lost');
        this.cache.gc();
      }), 1000),
    );
  }

  /** policy_* requests from the local API (palisade policy …). Errors come back as {error}. */
  private policyRequest(req: PolicyRequest): unknown {
    const pm = this.policies;
    if (!pm) return { error: 'the agent is not running yet' };
    switch (req.op) {
      case 'policy_add': {
        const r = pm.add(req.text, req.file, req.mode);
        for (const name of r.added) this.log.info({ policy: name, file: req.file }, 'policy added');
        return { added: r.added, errors: r.errors.map(formatPolicyError) };
      }
      case 'policy_delete':
        pm.delete(req.name); // records still in the ring decode: the registry keeps retired ids a while
        this.log.info({ policy: req.name }, 'policy deleted');
        return { deleted: req.name };
      case 'policy_enable':
        pm.enable(req.name);
        return { enabled: req.name };
      case 'policy_disable':
        pm.disable(req.name);
        return { disabled: req.name };
      case 'policy_list':
        return { policies: pm.list() };
    }
  }

  private networkHandlers(net: NetworkService): Pick<LocalHandlers, 'netpol' | 'endpoints' | 'observe'> {
    return {
      netpol: (req: NetpolRequest) => net.request(req),
      endpoints: (req) => handleEndpointRequest({ store: net.store, identityOf: (id) => net.identityOf(id) }, req),
      observe: (req, sock) => serveObserve(net.history, req, sock),
    };
  }

  /** A bug in one round must not stop the agent: log it and go on with the next round. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} failed`);
    }
  }

  kernelStats(): { lost: number } & Record<string, number> {
    const out: Record<string, number> = {};
    let lost = 0;
    if (this.stats) {
      for (let i = 0; i < STAT_NAMES.length; i++) {
        const name = STAT_NAMES[i]!;
        const v = Number(this.stats.sumPerCpuU64(Buffer.from(new Uint32Array([i]).buffer)) ?? 0n);
        out[name] = v;
        if (name.startsWith('lost_')) lost += v;
      }
    }
    return { ...out, lost };
  }

  status(): AgentStatus {
    const p = this.pipeline;
    return {
      version: VERSION,
      node_name: this.cfg.nodeName,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      programs: this.links.map((l) => l.program),
      ring_buffer_bytes: this.cfg.ringBufferBytes,
      events: p ? { ...p.counters } : ({} as PipelineCounters),
      kernel: this.kernelStats(),
      process_cache: this.cache.stats(),
      sinks: p ? p.sinks.map((s) => s.stats()) : [],
      clients: this.server?.clients ?? 0,
      network: this.network ? this.network.counters() : null,
      memory: memoryStatus(),
    };
  }

  /** Detaches every program, drains what is left, flushes and closes every sink. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.network?.stop();
    this.network = null;
    this.policies?.close();
    this.policies = null;
    for (const l of this.links) l.destroy();
    this.links = [];
    if (this.pipeline) {
      this.pipeline.poll(); // what the kernel wrote before detach
      this.pipeline.checkLosses();
      await Promise.all(this.pipeline.sinks.map((s) => s.close()));
    }
    await this.server?.close();
    this.obj?.close();
    this.obj = null;
    this.log.info('agent stopped: programs detached, sinks flushed');
  }
}
