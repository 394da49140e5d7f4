// Agent configuration: defaults, a YAML file, then command-line flags, in that order.
// Every error names the file, line, column and field.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { LineCounter, isMap, isScalar, parseDocument, type Node as YamlNode } from 'yaml';

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
  processCache: { maxEntries: number; ancestorsDepth: number; gcGraceSeconds: number };
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
    processCache: { maxEntries: 65536, ancestorsDepth: 5, gcGraceSeconds: 30 },
    export: { stdout: 'auto', file: null },
  };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const STDOUT_MODES: readonly StdoutMode[] = ['auto', 'json', 'compact', 'none'];

/** Field checks shared by the file and the flags: each returns an error text or the value. */
export const check = {
  positiveInt(v: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number | string {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      return `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`;
    }
    return n;
  },
  oneOf<T extends string>(v: unknown, allowed: readonly T[]): T | string {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    return `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`;
  },
  string(v: unknown): string | { error: string } {
    return typeof v === 'string' && v !== '' ? v : { error: `expected a non-empty string, got ${JSON.stringify(v)}` };
  },
  /** Ring buffer sizes must be a power of two and a multiple of the page size. */
  ringSize(v: unknown): number | string {
    const n = check.positiveInt(v, 4096, 1 << 30);
    if (typeof n === 'string') return n;
    return (n & (n - 1)) === 0 ? n : `must be a power of two (e.g. ${2 ** Math.round(Math.log2(n))}), got ${n}`;
  },
};

interface Field {
  path: string;
  apply(cfg: AgentConfig, v: unknown): string | undefined;
}

const num = (min: number, max: number, set: (c: AgentConfig, n: number) => void) => (c: AgentConfig, v: unknown) => {
  const r = check.positiveInt(v, min, max);
  if (typeof r === 'string') return r;
  set(c, r);
  return undefined;
};
const str = (set: (c: AgentConfig, s: string) => void) => (c: AgentConfig, v: unknown) => {
  const r = check.string(v);
  if (typeof r !== 'string') return r.error;
  set(c, r);
  return undefined;
};
function fileCfg(c: AgentConfig): NonNullable<AgentConfig['export']['file']> {
  c.export.file ??= { path: '/var/log/palisade/events.log', format: 'json', maxSizeMb: 100, maxFiles: 5 };
  return c.export.file;
}

const FIELDS: Field[] = [
  { path: 'node_name', apply: str((c, s) => (c.nodeName = s)) },
  {
    path: 'log_level',
    apply: (c, v) => {
      const r = check.oneOf(v, LOG_LEVELS);
      if (!LOG_LEVELS.includes(r as LogLevel)) return r;
      c.logLevel = r as LogLevel;
      return undefined;
    },
  },
  { path: 'bpf_dir', apply: str((c, s) => (c.bpfDir = s)) },
  {
    path: 'ring_buffer_bytes',
    apply: (c, v) => {
      const r = check.ringSize(v);
      if (typeof r === 'string') return r;
      c.ringBufferBytes = r;
      return undefined;
    },
  },
  { path: 'drain_interval_ms', apply: num(1, 1000, (c, n) => (c.drainIntervalMs = n)) },
  { path: 'socket', apply: str((c, s) => (c.socket = s)) },
  { path: 'process_cache.max_entries', apply: num(1024, 10_000_000, (c, n) => (c.processCache.maxEntries = n)) },
  { path: 'process_cache.ancestors_depth', apply: num(0, 64, (c, n) => (c.processCache.ancestorsDepth = n)) },
  { path: 'process_cache.gc_grace_seconds', apply: num(0, 86400, (c, n) => (c.processCache.gcGraceSeconds = n)) },
  {
    path: 'export.stdout',
    apply: (c, v) => {
      const r = check.oneOf(v, STDOUT_MODES);
      if (!STDOUT_MODES.includes(r as StdoutMode)) return r;
      c.export.stdout = r as StdoutMode;
      return undefined;
    },
  },
  { path: 'export.file.path', apply: str((c, s) => (fileCfg(c).path = s)) },
  {
    path: 'export.file.format',
    apply: (c, v) => {
      const r = check.oneOf(v, ['json', 'compact'] as const);
      if (r !== 'json' && r !== 'compact') return r;
      fileCfg(c).format = r;
      return undefined;
    },
  },
  { path: 'export.file.max_size_mb', apply: num(0, 1 << 20, (c, n) => (fileCfg(c).maxSizeMb = n)) },
  { path: 'export.file.max_files', apply: num(0, 1000, (c, n) => (fileCfg(c).maxFiles = n)) },
];
const SECTIONS = new Set(['process_cache', 'export', 'export.file']);

function suggest(key: string, known: string[]): string {
  let best = '';
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
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
      const field = FIELDS.find((f) => f.path === path);
      if (!field) {
        const siblings = [...FIELDS.map((f) => f.path), ...SECTIONS]
          .filter((p) => p.startsWith(prefix ? prefix + '.' : '') && !p.slice(prefix ? prefix.length + 1 : 0).includes('.'))
          .map((p) => p.slice(prefix ? prefix.length + 1 : 0));
        throw new ConfigError(`${where(keyNode)} ${path}: unknown field${suggest(key, siblings)}`);
      }
      const value = isScalar(valueNode) ? valueNode.value : valueNode ? (valueNode as { toJSON(): unknown }).toJSON() : null;
      const err = field.apply(cfg, value);
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
