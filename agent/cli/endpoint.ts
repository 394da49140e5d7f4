// `palisade endpoint label|unlabel|list`: workload labels in the running agent.
import type { Command } from 'commander';
import type { EndpointJson, EndpointListJson } from '../api/endpoints.js';
import { labelStrings, namespaceProblem, parseLabelArgs } from '../identity/labels.js';
import { CliError } from './errors.js';
import { table } from './policy.js';
import { SOCKET_OPTION, agentCall } from './status.js';


function describeEndpoint(e: EndpointJson): string {
  const labels = labelStrings(e.labels).join(', ') || 'no labels';
  return `${e.cgroup} (id ${e.id}, namespace ${e.namespace}): ${labels}`;
}

export function renderEndpoints(r: EndpointListJson): string {
  const lines: string[] = [];
  if (r.endpoints.length === 0) lines.push('no workloads');
  else {
    const rows = [['CGROUP', 'ID', 'NAMESPACE', 'IDENTITY', 'PROCS', 'ADDRESSES', 'LABELS']];
    for (const e of r.endpoints) {
      rows.push([e.cgroup, e.id, e.namespace, e.identity === undefined ? '-' : String(e.identity), String(e.processes), e.ips.join(',') || '-', labelStrings(e.labels).join(',') || '-']);
    }
    lines.push(table(rows));
  }
  for (const p of r.pending) lines.push(`not present: ${p.cgroupPath} (labelled by ${p.sources.join(', ')})`);
  const f = r.labels_file;
  if (f.errors.length > 0) {
    lines.push(`labels file ${f.file}: ${f.errors.length} error(s), ${f.loaded ? 'the last good version stays in force' : 'no labels from it'}:`);
    lines.push(...f.errors.map((e) => `  ${e}`));
  }
  return lines.join('\n');
}

export function registerEndpoint(program: Command): void {
  const endpoint = program.command('endpoint').description('workloads: cgroups with a namespace, labels and addresses, as network policies select them');
  endpoint
    .command('label')
    .description('set labels on a cgroup (kept until the agent stops; put lasting ones in the labels file)')
    .argument('<cgroup>', 'cgroup path below the cgroup2 mount (/system.slice/web.service) or the full path')
    .argument('<labels...>', 'key=value')
    .option('--namespace <ns>', 'namespace of the workload (default: as before, else "default")')
    .option(...SOCKET_OPTION)
    .action(async (cgroup: string, args: string[], opts: { namespace?: string; socket: string }) => {
      let labels: Record<string, string>;
      try {
        labels = parseLabelArgs(args);
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      if (opts.namespace !== undefined) {
        const problem = namespaceProblem(opts.namespace);
        if (problem) throw new CliError(`--namespace: ${problem}`, 2);
      }
      const r = await agentCall<{ endpoint: EndpointJson }>(opts.socket, {
        op: 'endpoint_label', cgroup, labels, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
      });
      console.log(`labelled ${describeEndpoint(r.endpoint)}`);
    });
  endpoint
    .command('unlabel')
    .description('remove the labels set with `endpoint label` (labels from the file and container names stay)')
    .argument('<cgroup>')
    .option(...SOCKET_OPTION)
    .action(async (cgroup: string, opts: { socket: string }) => {
      const r = await agentCall<{ unlabelled: string; endpoint?: EndpointJson }>(opts.socket, { op: 'endpoint_unlabel', cgroup });
      console.log(r.endpoint ? `unlabelled ${r.unlabelled}; still a workload: ${describeEndpoint(r.endpoint)}` : `unlabelled ${r.unlabelled}`);
    });
  endpoint
    .command('list')
    .description('workloads: cgroup, id, namespace, identity, processes, addresses, labels')
    .option('-o, --output <fmt>', 'table|json', 'table')
    .option(...SOCKET_OPTION)
    .action(async (opts: { output: string; socket: string }) => {
      if (opts.output !== 'table' && opts.output !== 'json') throw new CliError(`--output: expected table or json, got ${JSON.stringify(opts.output)}`, 2);
      const r = await agentCall<EndpointListJson>(opts.socket, { op: 'endpoint_list' });
      console.log(opts.output === 'json' ? JSON.stringify(r, null, 2) : renderEndpoints(r));
    });
}
