// Agent configuration: defaults, a YAML file, then command-line flags, in that order.
// Every error names the file, line, column and field.
import { DEFAULT_HISTORY_SIZE } from '../../network/flows/history.js';
import { DEFAULT_WORKLOADS_FILE } from '../identity/labels-file.js';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LineCounter, isMap, isScalar, parseDocument, type Node as YamlNode } from 'yaml';
import { didYouMean } from '../../tracing/policy/errors.js';

export type StdoutMode = 'auto' | 'json' | 'compact' | 'none';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface AgentConfig {
  nodeName: string;
  logLevel: LogLevel;
  /** Folder holding the built BPF objects. */
  bpfDir: string;
  ringBufferBytes: number;
  drainIntervalMs: number;
  socket: string;
  /** TracingPolicy files loaded at start ('' = none). */
  policyDir: string;
  processCache: { maxEntries: number; ancestorsDepth: number; gcGraceSeconds: number };
  /** `process_credentials` and `cap` in process blocks (Tetragon's --enable-process-cred). */
  enableProcessCred: boolean;
  /** `ns` in process blocks (Tetragon's --enable-process-ns). */
  enableProcessNs: boolean;
  /** Network policy and flows (docs/network-policy.md). */
  network: {
    enabled: boolean;
    /** Network policy files loaded at start ('' = none). */
    policyDir: string;
    /** Workload labels file (docs/workloads.md); '' = none. */
    workloadsFile: string;
    /** Flows `palisade observe` can look back on. */
    historySize: number;
  };
  export: {
    stdout: StdoutMode;
    file: { path: string; format: 'json' | 'compact'; maxSizeMb: number; maxFiles: number } | null;
  };
}

export class ConfigError extends Error {}

export function defaultConfig(bpfDir: string): AgentConfig {
  return {
    nodeName: hostname(),
    logLevel: 'info',
    bpfDir,
    ringBufferBytes: 16 << 20,
    drainIntervalMs: 5,
    socket: '/run/palisade/palisade.sock',
    policyDir: '',
    processCache: { maxEntries: 65536, ancestorsDepth: 5, gcGraceSeconds: 30 },
    // Off, as in Tetragon: they triple the size of every process block.
    enableProcessCred: false,
    enableProcessNs: false,
    network: { enabled: true, policyDir: '', workloadsFile: DEFAULT_WORKLOADS_FILE, historySize: DEFAULT_HISTORY_SIZE },
    export: { stdout: 'auto', file: null },
  };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const STDOUT_MODES: readonly StdoutMode[] = ['auto', 'json', 'compact', 'none'];

/** A field's value turned into what the config holds, or why it cannot be. */
type Checked<T> = { value: T } | { error: string };

function wholeNumber(v: unknown, min: number, max: number): Checked<number> {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    return { error: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}` };
  }
  return { value: n };
}

function oneOf<T extends string>(allowed: readonly T[]): (v: unknown) => Checked<T> {
  return (v) =>
    typeof v === 'string' && (allowed as readonly string[]).includes(v)
      ? { value: v as T }
      : { error: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}` };
}

function nonEmpty(v: unknown): Checked<string> {
  return typeof v === 'string' && v !== '' ? { value: v } : { error: `expected a non-empty string, got ${JSON.stringify(v)}` };
}

function anyString(v: unknown): Checked<string> {
  return typeof v === 'string' ? { value: v } : { error: `expected a string, got ${JSON.stringify(v)}` };
}

function bool(v: unknown): Checked<boolean> {
  if (v === true || v === 'true') return { value: true };
  if (v === false || v === 'false') return { value: false };
  return { error: `expected true or false, got ${JSON.stringify(v)}` };
}

/** Ring buffer sizes must be a power of two and a multiple of the page size. */
function ringSize(v: unknown): Checked<number> {
  const r = wholeNumber(v, 4096, 1 << 30);
  if ('error' in r) return r;
  const n = r.value;
  return (n & (n - 1)) === 0 ? r : { error: `must be a power of two (e.g. ${2 ** Math.round(Math.log2(n))}), got ${n}` };
}

const range = (min: number, max: number) => (v: unknown) => wholeNumber(v, min, max);

function fileCfg(c: AgentConfig): NonNullable<AgentConfig['export']['file']> {
  c.export.file ??= { path: '/var/log/palisade/events.log', format: 'json', maxSizeMb: 100, maxFiles: 5 };
  return c.export.file;
}

interface Field {
  check(v: unknown): Checked<unknown>;
  set(c: AgentConfig, v: unknown): void;
}

/** One entry per field: how its value is checked and where it goes. */
function field<T>(check: (v: unknown) => Checked<T>, set: (c: AgentConfig, v: T) => void): Field {
  return { check, set: set as (c: AgentConfig, v: unknown) => void };
}

const FIELDS = new Map<string, Field>([
  ['node_name', field(nonEmpty, (c, v) => (c.nodeName = v))],
  ['log_level', field(oneOf(LOG_LEVELS), (c, v) => (c.logLevel = v))],
  ['bpf_dir', field(nonEmpty, (c, v) => (c.bpfDir = v))],
  ['ring_buffer_bytes', field(ringSize, (c, v) => (c.ringBufferBytes = v))],
  ['drain_interval_ms', field(range(1, 1000), (c, v) => (c.drainIntervalMs = v))],
  ['socket', field(nonEmpty, (c, v) => (c.socket = v))],
  ['policy_dir', field(anyString, (c, v) => (c.policyDir = v))],
  ['process_cache.max_entries', field(range(1024, 10_000_000), (c, v) => (c.processCache.maxEntries = v))],
  ['process_cache.ancestors_depth', field(range(0, 64), (c, v) => (c.processCache.ancestorsDepth = v))],
  ['process_cache.gc_grace_seconds', field(range(0, 86400), (c, v) => (c.processCache.gcGraceSeconds = v))],
  ['enable_process_cred', field(bool, (c, v) => (c.enableProcessCred = v))],
  ['enable_process_ns', field(bool, (c, v) => (c.enableProcessNs = v))],
  ['network.enabled', field(bool, (c, v) => (c.network.enabled = v))],
  ['network.policy_dir', field(anyString, (c, v) => (c.network.policyDir = v))],
  ['network.workloads_file', field(anyString, (c, v) => (c.network.workloadsFile = v))],
  ['network.history_size', field(range(16, 1 << 20), (c, v) => (c.network.historySize = v))],
  ['export.stdout', field(oneOf(STDOUT_MODES), (c, v) => (c.export.stdout = v))],
  ['export.file.path', field(nonEmpty, (c, v) => (fileCfg(c).path = v))],
  ['export.file.format', field(oneOf(['json', 'compact'] as const), (c, v) => (fileCfg(c).format = v))],
  ['export.file.max_size_mb', field(range(0, 1 << 20), (c, v) => (fileCfg(c).maxSizeMb = v))],
  ['export.file.max_files', field(range(0, 1000), (c, v) => (fileCfg(c).maxFiles = v))],
]);
const SECTIONS = new Set(['process_cache', 'network', 'export', 'export.file']);

/** The keys that may stand directly under `prefix` ('' for the top level). */
function keysUnder(prefix: string): string[] {
  const head = prefix ? prefix + '.' : '';
  return [...FIELDS.keys(), ...SECTIONS]
    .filter((p) => p.startsWith(head) && !p.slice(head.length).includes('.'))
    .map((p) => p.slice(head.length));
}

/**
 * Sets one field by its file path (`export.file.max_files`), from the file or from a flag alike.
 * Returns why the value was refused, or undefined when it was set.
 */
export function setField(cfg: AgentConfig, path: string, value: unknown): string | undefined {
  const f = FIELDS.get(path);
  if (f === undefined) {
    const dot = path.lastIndexOf('.');
    return `unknown field${didYouMean(path.slice(dot + 1), keysUnder(dot < 0 ? '' : path.slice(0, dot)))}`;
  }
  const r = f.check(value);
  if ('error' in r) return r.error;
  f.set(cfg, r.value);
  return undefined;
}

/** Applies a YAML config text onto cfg. `file` only names the source in errors. */
export function applyConfigText(cfg: AgentConfig, text: string, file: string): void {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const where = (node: YamlNode | null | undefined): string => {
    const off = node?.range?.[0] ?? 0;
    const { line, col } = lc.linePos(off);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${line}:${col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return; // empty file: defaults
  const walk = (node: YamlNode, prefix: string): void => {
    if (!isMap(node)) throw new ConfigError(`${where(node)} ${prefix || '(top level)'}: expected a mapping`);
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const path = prefix ? `${prefix}.${key}` : key;
      const valueNode = pair.value as YamlNode | null;
      if (SECTIONS.has(path)) {
        if (valueNode) walk(valueNode, path);
        continue;
      }
      if (!FIELDS.has(path)) throw new ConfigError(`${where(keyNode)} ${path}: ${setField(cfg, path, null)}`);
      const value = isScalar(valueNode) ? valueNode.value : valueNode ? (valueNode as { toJSON(): unknown }).toJSON() : null;
      const err = setField(cfg, path, value);
      if (err) throw new ConfigError(`${where(valueNode ?? keyNode)} ${path}: ${err}`);
    }
  };
  walk(doc.contents as YamlNode, '');
}

export function loadConfigFile(cfg: AgentConfig, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`${file}: cannot read config file (${code})`);
  }
  applyConfigText(cfg, text, file);
}
