// `palisade agent`: run the daemon on this host.
import { join } from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { packageRoot } from '../../native/index.js';
import { Agent, AgentStartError } from '../daemon.js';
import { ConfigError, defaultConfig, loadConfigFile, setField, type AgentConfig } from '../config/config.js';
import { CliError } from './errors.js';

interface AgentFlags {
  config?: string;
  nodeName?: string;
  logLevel?: string;
  bpfDir?: string;
  ringBufferBytes?: string;
  drainIntervalMs?: string;
  socket?: string;
  policyDir?: string;
  exportStdout?: string;
  exportFile?: string;
  exportFileFormat?: string;
  exportFileMaxSizeMb?: string;
  exportFileMaxFiles?: string;
  ancestorsDepth?: string;
  cacheMaxEntries?: string;
  enableProcessCred?: boolean;
  enableProcessNs?: boolean;
  network?: boolean;
  netpolDir?: string;
  workloadsFile?: string;
}

/** Flags override the file: each sets the config file's field of the same meaning, checked alike. */
const FLAG_FIELDS: [keyof AgentFlags, string][] = [
  ['nodeName', 'node_name'],
  ['logLevel', 'log_level'],
  ['bpfDir', 'bpf_dir'],
  ['ringBufferBytes', 'ring_buffer_bytes'],
  ['drainIntervalMs', 'drain_interval_ms'],
  ['socket', 'socket'],
  ['policyDir', 'policy_dir'],
  ['exportStdout', 'export.stdout'],
  ['exportFile', 'export.file.path'],
  ['exportFileFormat', 'export.file.format'],
  ['exportFileMaxSizeMb', 'export.file.max_size_mb'],
  ['exportFileMaxFiles', 'export.file.max_files'],
  ['ancestorsDepth', 'process_cache.ancestors_depth'],
  ['cacheMaxEntries', 'process_cache.max_entries'],
  ['enableProcessCred', 'enable_process_cred'],
  ['enableProcessNs', 'enable_process_ns'],
  ['network', 'network.enabled'],
  ['netpolDir', 'network.policy_dir'],
  ['workloadsFile', 'network.workloads_file'],
];

export function buildConfig(flags: AgentFlags): AgentConfig {
  const cfg = defaultConfig(join(packageRoot(), 'build', 'bpf'));
  cfg.policyDir = join(packageRoot(), 'policies', 'default');
  if (flags.config) loadConfigFile(cfg, flags.config);
  for (const [flag, field] of FLAG_FIELDS) {
    const v = flags[flag];
    // commander gives --no-network's flag a default of true: only the flag itself overrides the file
    if (v === undefined || (flag === 'network' && v === true)) continue;
    const err = setField(cfg, field, v);
    if (err) throw new ConfigError(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${err}`);
  }
  return cfg;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the agent: trace every process on this host and export events')
    .option('-c, --config <file>', 'YAML config file (see docs/config.md)')
    .option('--node-name <name>', 'node name in events and exec ids (default: hostname)')
    .option('--log-level <level>', 'trace|debug|info|warn|error|fatal|silent (default: info)')
    .option('--bpf-dir <dir>', 'folder with the built BPF objects (default: build/bpf)')
    .option('--ring-buffer-bytes <n>', 'kernel ring buffer size, a power of two (default: 16777216)')
    .option('--drain-interval-ms <n>', 'how often the ring buffer is drained (default: 5)')
    .option('--socket <path>', 'local API socket (default: /run/palisade/palisade.sock)')
    .option('--policy-dir <dir>', "TracingPolicy files to load at start (default: policies/default; '' for none)")
    .option('--export-stdout <mode>', 'auto|json|compact|none: events on stdout (auto: compact on a terminal, else json)')
    .option('--export-file <path>', 'also write events as JSON lines to this file')
    .option('--export-file-format <fmt>', 'json|compact (default: json)')
    .option('--export-file-max-size-mb <n>', 'rotate the file past this size (default: 100, 0 = never)')
    .option('--export-file-max-files <n>', 'rotated files to keep (default: 5)')
    .option('--ancestors-depth <n>', 'ancestors reported beyond the parent (default: 5)')
    .option('--cache-max-entries <n>', 'process cache bound (default: 65536)')
    .option('--enable-process-cred', 'add credentials and capabilities to process blocks (as Tetragon --enable-process-cred)')
    .option('--enable-process-ns', 'add namespaces to process blocks (as Tetragon --enable-process-ns)')
    .option('--no-network', 'no network policy, flows or workloads (cgroup hooks stay unattached)')
    .option('--netpol-dir <dir>', "network policy files to load at start (default: none)")
    .option('--workloads-file <path>', "workload labels file (default: /etc/palisade/workloads.yaml; '' for none)")
    .action(async (flags: AgentFlags) => {
      let cfg: AgentConfig;
      try {
        cfg = buildConfig(flags);
      } catch (e) {
        if (e instanceof ConfigError) throw new CliError(e.message, 2);
        throw e;
      }
      const log = pino({ level: cfg.logLevel, base: { node: cfg.nodeName } }, pino.destination(2));
      const agent = new Agent(cfg, log);
      const shutdown = (sig: string): void => {
        log.info({ signal: sig }, 'stopping');
        agent.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            log.error({ err: e }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      try {
        await agent.start();
      } catch (e) {
        await agent.stop().catch(() => undefined);
        if (e instanceof AgentStartError) throw new CliError(e.message);
        const err = e as Error & { code?: string; libbpfLog?: string };
        throw new CliError(`agent failed to start: ${err.message}${err.libbpfLog ? '\n' + err.libbpfLog.trim().split('\n').slice(-8).join('\n') : ''}`);
      }
      log.info('agent running: Ctrl-C to stop');
    });
}

