// `palisade policy validate FILE...`: checks TracingPolicy files offline; no agent needed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatPolicyError, parsePolicies, type PolicyKind, type PolicyMode, type TracingPolicy } from '../../tracing/policy/index.js';
import { CliError } from './errors.js';

export interface PolicySummary {
  name: string;
  namespace?: string;
  kind: PolicyKind;
  mode: PolicyMode;
  hooks: number;
}

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
    else out.push(...readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(p, f)));
  }
  return out;
}

export function validateFiles(paths: string[]): FileReport[] {
  return expand(paths).map((file): FileReport => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      const message = `cannot read file (${code})`;
      return { file, valid: false, policies: [], errors: [{ path: '', message, text: `${file}: ${message}` }] };
    }
    const r = parsePolicies(text, file);
    return {
      file,
      valid: r.errors.length === 0,
      policies: r.policies.map(summary),
      errors: r.errors.map((e) => ({ line: e.line, column: e.column, path: e.path, message: e.message, text: formatPolicyError(e) })),
    };
  });
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
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

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('work with TracingPolicy files (Tetragon cilium.io/v1alpha1 format)');
  policy
    .command('validate')
    .description('check policy files offline: every error with file, line, column and field; exit 0 only if all are valid')
    .argument('<file...>', 'YAML files (several documents each) or directories of them')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .action((files: string[], opts: { output: string }) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new CliError(`--output: expected text or json, got ${JSON.stringify(opts.output)}`, 2);
      const reports = validateFiles(files);
      if (reports.length === 0) throw new CliError(`no .yaml or .yml files in ${files.join(', ')}`);
      const valid = reports.every((r) => r.valid);
      console.log(opts.output === 'json' ? JSON.stringify({ valid, files: reports }, null, 2) : renderReports(reports));
      if (!valid) process.exitCode = 1;
    });
}
