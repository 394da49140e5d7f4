// `palisade probe`: what this kernel lets us do.
import type { Command } from 'commander';
import { probeFeatures } from '../../native/index.js';
import type { FeatureReport } from '../../native/types.js';

const yes = (b: boolean): string => (b ? 'yes' : 'no');

export function renderProbe(r: FeatureReport): string {
  const lines: string[] = [];
  const section = (title: string, rows: [string, string][]): void => {
    lines.push(title);
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(w)}  ${v}`);
  };
  section('Kernel', [
    ['release', r.kernelRelease],
    ['BTF', yes(r.btf)],
    ['ring buffer', yes(r.ringbuf)],
    ['lockdown', r.lockdown],
    ['LSMs', r.lsms.join(',') || 'unknown'],
  ]);
  section('Program types', Object.entries(r.programTypes).map(([k, v]) => [k, yes(v)]));
  section('Map types', Object.entries(r.mapTypes).map(([k, v]) => [k, yes(v)]));
  section('Helpers', Object.entries(r.helpers).map(([k, v]) => [k, yes(v)]));
  section('Attach', Object.entries(r.attach).map(([k, v]) => [k, v.ok ? 'yes' : `no: ${v.reason ?? 'unsupported'}`]));
  return lines.join('\n');
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('report the BPF features of this kernel (program types, attach types, helpers, LSMs)')
    .option('-o, --output <fmt>', 'text|json', 'text')
    .action((opts: { output: string }) => {
      const r = probeFeatures();
      console.log(opts.output === 'json' ? JSON.stringify(r, null, 2) : renderProbe(r));
    });
}
