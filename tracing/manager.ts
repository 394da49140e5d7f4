// The loaded TracingPolicies: add (parse, compile, load, attach), delete, enable, disable, list.
// Each policy is loaded whole or not at all, and one policy's failure never touches another.
import { readFileSync } from 'node:fs';
import { BpfError } from '../native/index.js';
import type { ArgDecode, CompileEnv, HookEvent } from './compile/compile.js';
import { compilePolicy, type WorkloadScope } from './compile/compile.js';
import { policyFiles } from './policy/files.js';
import { parsePolicies, type PolicyError, type PolicyMode, type TracingPolicy } from './policy/index.js';
import { LoadedHook, type HookCounts, type SharedMaps } from './sensor/hook.js';
import { MarkError, ProcessMarks, type LiveProcess } from './sensor/marks.js';

/** What the pipeline needs to decode a hook's records. */
export interface HookRegistration {
  event: HookEvent;
  policyName: string;
  /** JSON members naming the hook, e.g. "subsys":"syscalls","event":"sys_enter_openat" */
  hookJson: string;
  label: string;
  args: ArgDecode[];
  /** return: true — how the return value reads. */
  ret?: ArgDecode;
  message: string;
  tags: string[];
  mode: PolicyMode;
}

export interface HookIds {
  register(info: HookRegistration): number;
  unregister(id: number): void;
}

export interface PolicySummary {
  name: string;
  file: string;
  mode: PolicyMode;
  state: 'enabled' | 'disabled';
  hooks: string[];
  counts: HookCounts;
  kernelMemoryBytes: number;
}

export interface AddResult {
  added: string[];
  errors: PolicyError[];
}

export interface PolicyManagerOptions {
  shared: SharedMaps;
  registry: HookIds;
  env: CompileEnv;
  processes: () => Iterable<LiveProcess>;
}

/** Workloads (cgroups with namespace and labels), from the agent's workload store. */
export interface WorkloadSource {
  cgroupsOf(scope: WorkloadScope): bigint[];
  /** Calls fn after every change of the workloads; returns the unsubscribe function. */
  onChange(fn: () => void): () => void;
}

interface LoadedPolicy {
  policy: TracingPolicy;
  hooks: LoadedHook[];
  markBits: bigint[];
  enabled: boolean;
}

export class PolicyNotFound extends Error {
  constructor(name: string, known: string[]) {
    super(`no policy named "${name}" is loaded${known.length ? ` (loaded: ${known.join(', ')})` : ''}`);
  }
}

export class PolicyManager {
  private readonly policies = new Map<string, LoadedPolicy>();
  /** The per-process mark bits, shared with network rules restricted to binaries. */
  readonly marks: ProcessMarks;

  constructor(private readonly opts: PolicyManagerOptions) {
    const { shared } = opts;
    this.marks = new ProcessMarks({ names: shared.pal_bin_names, cfg: shared.pal_marks_cfg, procs: shared.pal_proc_marks }, opts.processes);
  }

  private workloads: WorkloadSource | null = null;
  private unsubscribe: (() => void) | null = null;

  /** The workloads podSelector and namespaced policies select; until given, such policies are refused. */
  useWorkloads(src: WorkloadSource): void {
    this.unsubscribe?.();
    this.workloads = src;
    this.unsubscribe = src.onChange(() => this.syncWorkloads());
    this.syncWorkloads();
  }

  /** Every scoped hook's cgroup set, from the workloads as they are now. */
  private syncWorkloads(): void {
    const src = this.workloads;
    if (!src) return;
    for (const p of this.policies.values()) for (const h of p.hooks) if (h.compiled.workloads) h.setCgroups(src.cgroupsOf(h.compiled.workloads));
  }

  /** Parses, compiles and loads every policy in the text. Errors carry file:line:col and field. */
  add(text: string, file: string, mode?: PolicyMode): AddResult {
    const parsed = parsePolicies(text, file);
    const errors = [...parsed.errors];
    const added: string[] = [];
    if (errors.length > 0) return { added, errors };
    for (const p of parsed.policies) {
      if (mode) p.spec.mode = mode;
      const at = { file: p.source.file, line: p.source.line, column: 1 };
      if (this.policies.has(p.metadata.name)) {
        errors.push({ ...at, path: 'metadata.name', message: `a policy named "${p.metadata.name}" is already loaded: delete it first` });
        continue;
      }
      const compiled = compilePolicy(p, this.opts.env);
      if (compiled.errors.length > 0) {
        errors.push(...compiled.errors);
        continue;
      }
      if (!this.workloads && compiled.hooks.some((h) => h.workloads)) {
        errors.push({ ...at, path: p.spec.podSelector ? 'spec.podSelector' : 'metadata.namespace', message: 'selects workloads, and this agent runs without workloads (network off): it would apply to every process' });
        continue;
      }
      try {
        this.policies.set(p.metadata.name, this.load(p, compiled.hooks));
        added.push(p.metadata.name);
      } catch (e) {
        const [path, err] = e instanceof HookLoadError ? [e.path, e.cause] : ['spec', e];
        errors.push({ ...at, path, message: describeLoadError(err) });
      }
    }
    return { added, errors };
  }

  /** Every *.yaml / *.yml file of a directory, in name order. */
  addDir(dir: string): AddResult {
    const out: AddResult = { added: [], errors: [] };
    for (const path of policyFiles(dir)) {
      const r = this.add(readFileSync(path, 'utf8'), path);
      out.added.push(...r.added);
      out.errors.push(...r.errors);
    }
    return out;
  }

  delete(name: string): void {
    const p = this.get(name);
    for (const h of p.hooks) h.detach();
    for (const h of p.hooks) {
      h.close();
      this.opts.registry.unregister(h.hookId);
    }
    this.marks.release(p.markBits);
    this.policies.delete(name);
  }

  enable(name: string): void {
    const p = this.get(name);
    for (const h of p.hooks) h.attach();
    p.enabled = true;
  }

  disable(name: string): void {
    const p = this.get(name);
    for (const h of p.hooks) h.detach();
    p.enabled = false;
  }

  list(): PolicySummary[] {
    return [...this.policies.values()].map((p) => {
      const counts: HookCounts = { posted: 0, enforced: 0, rate_limited: 0, lost: 0 };
      let mem = 0;
      for (const h of p.hooks) {
        const c = h.counts();
        for (const k of Object.keys(counts) as Array<keyof HookCounts>) counts[k] += c[k];
        mem += h.kernelMemory();
      }
      return {
        name: p.policy.metadata.name,
        file: p.policy.source.file,
        mode: p.policy.spec.mode,
        state: p.enabled ? 'enabled' : 'disabled',
        hooks: p.hooks.map((h) => h.compiled.label),
        counts,
        kernelMemoryBytes: mem,
      };
    });
  }

  close(): void {
    this.unsubscribe?.();
    for (const name of [...this.policies.keys()]) this.delete(name);
  }

  private get(name: string): LoadedPolicy {
    const p = this.policies.get(name);
    if (!p) throw new PolicyNotFound(name, [...this.policies.keys()]);
    return p;
  }

  private load(p: TracingPolicy, compiled: ReturnType<typeof compilePolicy>['hooks']): LoadedPolicy {
    const allMarks = compiled.flatMap((c) => c.marks);
    let markBits: bigint[] = [];
    const hooks: LoadedHook[] = [];
    const ids: number[] = [];
    try {
      try {
        markBits = this.marks.add(allMarks);
      } catch (e) {
        throw new HookLoadError('spec', e);
      }
      let next = 0;
      for (const c of compiled) {
        const bits = markBits.slice(next, next + c.marks.length);
        next += c.marks.length;
        const id = this.opts.registry.register({
          event: c.event, policyName: p.metadata.name, hookJson: c.hookJson, label: c.label, args: c.args,
          message: c.message, tags: c.tags, mode: p.spec.mode, ...(c.ret ? { ret: c.ret.decode } : {}),
        });
        ids.push(id);
        try {
          const h = LoadedHook.load(c, id, bits, this.opts.shared);
          hooks.push(h);
          if (c.workloads) h.setCgroups(this.workloads!.cgroupsOf(c.workloads)); // before attach: never unscoped
          h.attach();
        } catch (e) {
          throw new HookLoadError(c.path, e);
        }
      }
      return { policy: p, hooks, markBits, enabled: true };
    } catch (e) {
      for (const h of hooks) h.close();
      for (const id of ids) this.opts.registry.unregister(id);
      this.marks.release(markBits);
      throw e;
    }
  }
}

class HookLoadError extends Error {
  constructor(readonly path: string, override readonly cause: unknown) {
    super(String(cause));
  }
}

function describeLoadError(e: unknown): string {
  if (e instanceof BpfError) {
    const tail = e.libbpfLog.trim().split('\n').slice(-3).join(' | ');
    return `${e.message}${tail && e.op === 'load' ? ` (verifier: ${tail})` : ''}`;
  }
  if (e instanceof MarkError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
