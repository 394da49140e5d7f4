// `palisade netpol`: network policies (Kubernetes NetworkPolicy, CiliumNetworkPolicy,
// CiliumClusterwideNetworkPolicy) — validate offline, add, delete and list in the running agent.
import type { Command } from 'commander';
import type { NetPolicySummary } from '../../network/manager.js';
import { parseNetworkPolicies } from '../../network/policy/parse.js';
import type { NetpolRequest } from '../network/service.js';
import { CliError } from './errors.js';
import { readPolicyFile, table, validateCommand, type PolicyChecker } from './policy.js';
import { SOCKET_OPTION, agentCall } from './status.js';

const checkNetwork: PolicyChecker = (text, file) => {
  const r = parseNetworkPolicies(text, file);
  return {
    policies: r.policies.map((p) => ({ name: p.name, kind: p.kind, mode: p.mode, rules: p.subjects.reduce((n, s) => n + s.rules.length, 0), ...(p.namespace ? { namespace: p.namespace } : {}) })),
    errors: r.errors,
  };
};

export function renderNetpolList(list: NetPolicySummary[]): string {
  if (list.length === 0) return 'no network policies loaded';
  const rows = [['NAMESPACE', 'NAME', 'KIND', 'MODE', 'WORKLOADS', 'RULES', 'FILE']];
  for (const p of list) rows.push([p.namespace ?? '(cluster)', p.name, p.kind, p.mode, String(p.selectedWorkloads), String(p.rules), p.file]);
  return table(rows);
}

export function registerNetpol(program: Command): void {
  const netpol = program.command('netpol').description('network policies: Kubernetes NetworkPolicy and CiliumNetworkPolicy');
    netpol
    .command('validate')
    .description('check network policy files offline: every error with file, line, column and field')
    .argument('<file...>', 'YAML files (several documents each) or directories of them')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .action((files: string[], opts: { output: string }) => validateCommand(files, opts.output, checkNetwork));
  netpol
    .command('add')
    .description('load (or replace) the policies of a file in the running agent: all of them, or none on error')
    .argument('<file>')
    .option('--mode <mode>', 'enforce|audit: audit reports would-deny verdicts and drops nothing')
    .option(...SOCKET_OPTION)
    .action(async (file: string, opts: { mode?: string; socket: string }) => {
      if (opts.mode !== undefined && opts.mode !== 'enforce' && opts.mode !== 'audit') {
        throw new CliError(`--mode: expected enforce or audit, got ${JSON.stringify(opts.mode)}`, 2);
      }
      const req: NetpolRequest = { op: 'netpol_add', file, text: readPolicyFile(file) };
      if (opts.mode) req.mode = opts.mode;
      const r = await agentCall<{ added: string[]; errors: string[] }>(opts.socket, req);
      for (const key of r.added) console.log(`added ${key}`);
      if (r.errors.length > 0) throw new CliError(r.errors.join('\n'));
    });
  netpol
    .command('delete')
    .description('delete a loaded network policy by name')
    .argument('<name>')
    .option('-n, --namespace <ns>', 'the namespace of a namespaced policy')
    .option(...SOCKET_OPTION)
    .action(async (name: string, opts: { namespace?: string; socket: string }) => {
      const req: NetpolRequest = { op: 'netpol_delete', name };
      if (opts.namespace) req.namespace = opts.namespace;
      const r = await agentCall<{ deleted: string[] }>(opts.socket, req);
      for (const key of r.deleted) console.log(`deleted ${key}`);
    });
  netpol
    .command('list')
    .description('loaded network policies: kind, mode, workloads selected, rules')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .option(...SOCKET_OPTION)
    .action(async (opts: { output: string; socket: string }) => {
      const r = await agentCall<{ policies: NetPolicySummary[] }>(opts.socket, { op: 'netpol_list' });
      console.log(opts.output === 'json' ? JSON.stringify(r.policies, null, 2) : renderNetpolList(r.policies));
    });
}
