// `palisade policy validate FILE...`: checks TracingPolicy files offline; no agent needed.
import { policyFiles } from '../../tracing/policy/files.js';
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { formatPolicyError, parsePolicies, type PolicyError, type PolicyKind, type PolicyMode, type TracingPolicy } from '../../tracing/policy/index.js';
import type { PolicySummary as LoadedSummary } from '../../tracing/manager.js';
import { CliError } from './errors.js';
import { plural } from '../../tracing/policy/errors.js';
import { SOCKET_OPTION, agentCall } from './status.js';
import type { PolicyRequest } from '../api/local.js';

export interface PolicySummary {
  name: string;
  namespace?: string;
  kind: PolicyKind | string;
  mode: PolicyMode | string;
  hooks?: number;
  rules?: number;
}

/** What validation needs of a policy language: its documents' summaries and errors. */
export type PolicyChecker = (text: string, file: string) => { policies: PolicySummary[]; errors: PolicyError[] };

const checkTracing: PolicyChecker = (text, file) => {
  const r = parsePolicies(text, file);
  return { policies: r.policies.map(summary), errors: r.errors };
};

export interface FileReport {
  file: string;
  valid: boolean;
  /** The documents without errors; a file is valid only when every document is. */
  policies: PolicySummary[];
  /** `text` is the line the text output prints. line/column are absent when the file could not be read. */
  errors: Array<{ line?: number; column?: number; path: string; message: string; text: string }>;
}

function summary(p: TracingPolicy): PolicySummary {
  const s = p.spec;
  const out: PolicySummary = { name: p.metadata.name, kind: p.kind, mode: s.mode, hooks: s.kprobes.length + s.tracepoints.length + s.uprobes.length + s.lsmhooks.length };
  if (p.metadata.namespace !== undefined) out.namespace = p.metadata.namespace;
  return out;
}

/** A directory stands for the .yaml and .yml files in it. */
function expand(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      // reported when read
    }
    if (!dir) out.push(p);
    else out.push(...policyFiles(p));
  }
  return out;
}

export function validateFiles(paths: string[], check: PolicyChecker = checkTracing): FileReport[] {
  return expand(paths).map((file): FileReport => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      const message = `cannot read file (${code})`;
      return { file, valid: false, policies: [], errors: [{ path: '', message, text: `${file}: ${message}` }] };
    }
    const r = check(text, file);
    return {
      file,
      valid: r.errors.length === 0,
      policies: r.policies,
      errors: r.errors.map((e) => ({ line: e.line, column: e.column, path: e.path, message: e.message, text: formatPolicyError(e) })),
    };
  });
}

const label = (p: PolicySummary): string => (p.namespace ? `${p.namespace}/${p.name}` : p.name);

export function renderReports(reports: FileReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    if (r.valid) lines.push(`ok  ${r.file}: ${plural(r.policies.length, 'policy', 'policies')} (${r.policies.map(label).join(', ')})`);
    else lines.push(...r.errors.map((e) => e.text));
  }
  const bad = reports.filter((r) => !r.valid);
  const policies = reports.reduce((n, r) => n + (r.valid ? r.policies.length : 0), 0);
  if (bad.length === 0) lines.push(`${plural(reports.length, 'file')} valid, ${plural(policies, 'policy', 'policies')}`);
  else {
    const errors = bad.reduce((n, r) => n + r.errors.length, 0);
    lines.push(`${bad.length} of ${plural(reports.length, 'file')} invalid (${plural(errors, 'error')})`);
  }
  return lines.join('\n');
}

export function readPolicyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${file}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** `validate FILE...` of a policy language: text or JSON report, exit 1 unless all are valid. */
export function validateCommand(files: string[], output: string, check?: PolicyChecker): void {
  if (output !== 'text' && output !== 'json') throw new CliError(`--output: expected text or json, got ${JSON.stringify(output)}`, 2);
  const reports = validateFiles(files, check);
  if (reports.length === 0) throw new CliError(`no .yaml or .yml files in ${files.join(', ')}`);
  const valid = reports.every((r) => r.valid);
  console.log(output === 'json' ? JSON.stringify({ valid, files: reports }, null, 2) : renderReports(reports));
  if (!valid) process.exitCode = 1;
}


const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;

export function renderList(list: LoadedSummary[]): string {
  if (list.length === 0) return 'no policies loaded';
  const rows = [['NAME', 'STATE', 'MODE', 'POSTED', 'ENFORCED', 'RATE-LIMITED', 'LOST', 'KERNEL MEMORY', 'HOOKS']];
  for (const p of list) {
    const c = p.counts;
    rows.push([p.name, p.state, p.mode, String(c.posted), String(c.enforced), String(c.rate_limited), String(c.lost), kib(p.kernelMemoryBytes), p.hooks.join(', ')]);
  }
  return table(rows);
}

/** Aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('work with TracingPolicy files (Tetragon cilium.io/v1alpha1 format)');
  policy
    .command('validate')
    .description('check policy files offline: every error with file, line, column and field; exit 0 only if all are valid')
    .argument('<file...>', 'YAML files (several documents each) or directories of them')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .action((files: string[], opts: { output: string }) => validateCommand(files, opts.output));

    policy
    .command('add')
    .description('load policies from a file into the running agent (all of the file, or none of it on error)')
    .argument('<file>', 'YAML file, one or more TracingPolicy documents')
    .option('--mode <mode>', 'enforce|monitor: overrides spec.options policy-mode')
    .option(...SOCKET_OPTION)
    .action(async (file: string, opts: { mode?: string; socket: string }) => {
      if (opts.mode !== undefined && opts.mode !== 'enforce' && opts.mode !== 'monitor') {
        throw new CliError(`--mode: expected enforce or monitor, got ${JSON.stringify(opts.mode)}`, 2);
      }
      const req: PolicyRequest = { op: 'policy_add', file, text: readPolicyFile(file) };
      if (opts.mode) req.mode = opts.mode;
      const r = await agentCall<{ added: string[]; errors: string[] }>(opts.socket, req);
      for (const name of r.added) console.log(`added ${name}`);
      if (r.errors.length > 0) throw new CliError(r.errors.join('\n'));
    });
  for (const [verb, op, done] of [
    ['delete', 'policy_delete', 'deleted'],
    ['enable', 'policy_enable', 'enabled'],
    ['disable', 'policy_disable', 'disabled'],
  ] as const) {
    policy
      .command(verb)
      .description(`${verb} a loaded policy by name`)
      .argument('<name>')
      .option(...SOCKET_OPTION)
      .action(async (name: string, opts: { socket: string }) => {
        await agentCall(opts.socket, { op, name });
        console.log(`${done} ${name}`);
      });
  }
  policy
    .command('list')
    .description('loaded policies: state, mode, events posted and enforced, kernel memory, hooks')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .option(...SOCKET_OPTION)
    .action(async (opts: { output: string; socket: string }) => {
      const r = await agentCall<{ policies: LoadedSummary[] }>(opts.socket, { op: 'policy_list' });
      console.log(opts.output === 'json' ? JSON.stringify(r.policies, null, 2) : renderList(r.policies));
    });
}
