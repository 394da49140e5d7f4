// Selector compiler: a validated TracingPolicy → one pal_hook_cfg (.rodata) per hook plus the
// entries of its filter maps. Pure: the kernel facts it needs (tracepoint formats, host namespaces)
// come in through CompileEnv, so unit tests compile against fixed formats.
import type { AttachSpec } from '../../native/index.js';
import { CAPABILITIES, ARG_TYPE_INFO } from '../policy/schema.js';
import {
  NAMESPACE_TYPES, type Action, type ArgFilter, type ArgSpec, type BinaryFilter, type HookSpec, type LabelSelector, type PolicyError,
  type Selector, type TracingPolicy,
} from '../policy/types.js';
import {
  ACTION_CFG, ADDR_KEY, ARG_CFG, ARG_FILTER, ArgKind, ArgSrc, ActKind, BIN_KEY, BinKind, CAP_FILTER, HOOK_CFG,
  NS_FILTER, NUM_KEY, Op, PID_FILTER, SELECTOR_CFG, STR_KEY, TR,
} from './layout.js';
import type { TracepointField } from './tracefs.js';

export interface CompileEnv {
  tracepointFormat(subsystem: string, event: string): TracepointField[] | string;
  /** Namespace inums of the host (enum pal_ns_index order), for host_ns values. */
  hostNs: ArrayLike<number>;
  /** The start-up feature probe's attach results (native probeFeatures().attach); absent = all work. */
  attach?: Record<string, { ok: boolean; reason?: string }>;
}

export type ProgramName =
  | 'pal_tp' | 'pal_raw_tp' | 'pal_uprobe' | 'pal_kprobe' | 'pal_fentry' | 'pal_lsm'
  | 'pal_kretprobe' | 'pal_uretprobe' | 'pal_fexit';
export type HookEvent = 'process_tracepoint' | 'process_kprobe' | 'process_uprobe' | 'process_lsm';
/** How the pipeline prints an argument (Tetragon's JSON keys). */
export type ArgDecode = 'int' | 'uint' | 'long' | 'ulong' | 'size_t' | 'string' | 'bytes' | 'sockaddr' | 'file' | 'path' | 'sock' | 'cred' | 'capability';

/** A per-process mark the agent must allocate a bit for and write into cfg at `offset`. */
export type MarkRequest =
  | { kind: 'binary'; offset: number; filter: BinaryFilter }
  | { kind: 'pids'; offset: number; pids: number[]; nsPid: boolean };

export interface CompiledHook {
  /** e.g. spec.tracepoints[0] */
  path: string;
  event: HookEvent;
  program: ProgramName;
  attach: AttachSpec[];
  /** fentry/lsm: the kernel function the program is loaded against. */
  target?: string;
  /** return: true — the return program, attached beside the entry one; decode of returnArg. */
  ret?: { program: ProgramName; attach: AttachSpec[]; decode: ArgDecode };
  /** Fields of the event that name the hook, as JSON members: "subsys":"syscalls","event":"sys_enter_openat" */
  hookJson: string;
  /** Short name for lists and compact lines, e.g. syscalls/sys_enter_openat */
  label: string;
  args: ArgDecode[];
  message: string;
  tags: string[];
  /** pal_hook_cfg without hook_id and marks (the loader fills them). */
  cfg: Buffer;
  strKeys: Buffer[];
  numKeys: Buffer[];
  addrKeys: Buffer[];
  marks: MarkRequest[];
  /** Some Post action has a rateLimit: the hook needs its rate map. */
  rateLimited: boolean;
  /** podSelector or a namespaced policy: only tasks in the selected workloads' cgroups (cgroup_set). */
  workloads?: WorkloadScope;
}

/** Which workloads a policy applies to: those of `namespace` (a TracingPolicyNamespaced) whose
 *  labels `selector` matches (absent: all of them). */
export interface WorkloadScope {
  namespace?: string;
  selector?: LabelSelector;
}

export interface CompileResult {
  hooks: CompiledHook[];
  errors: PolicyError[];
}

class HookError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

const NS_INDEX: Record<(typeof NAMESPACE_TYPES)[number], number> = {
  Uts: 0, Ipc: 1, Mnt: 2, Pid: 3, PidForChildren: 4, Net: 5, Time: 6, TimeForChildren: 7, Cgroup: 8, User: 9,
};

export function compilePolicy(p: TracingPolicy, env: CompileEnv): CompileResult {
  const hooks: CompiledHook[] = [];
  const errors: PolicyError[] = [];
  const all: Array<[string, HookSpec]> = [
    ...p.spec.tracepoints.map((h, i): [string, HookSpec] => [`spec.tracepoints[${i}]`, h]),
    ...p.spec.uprobes.map((h, i): [string, HookSpec] => [`spec.uprobes[${i}]`, h]),
    ...p.spec.kprobes.map((h, i): [string, HookSpec] => [`spec.kprobes[${i}]`, h]),
    ...p.spec.lsmhooks.map((h, i): [string, HookSpec] => [`spec.lsmhooks[${i}]`, h]),
  ];
  for (const [path, spec] of all) {
    try {
      hooks.push(new HookCompiler(p, path, spec, env).compile());
    } catch (e) {
      if (!(e instanceof HookError)) throw e;
      errors.push({ file: p.source.file, ...positionOf(p, e.path), path: e.path, message: e.message });
    }
  }
  return { hooks, errors };
}

/** Where the field an error is about starts: the path itself, else its nearest parent that was read. */
function positionOf(p: TracingPolicy, path: string): { line: number; column: number } {
  for (let q = path; q !== ''; q = q.replace(/(\.[^.[]+|\[\d+\])$/, '')) {
    const at = p.source.positions?.get(q);
    if (at) return at;
    if (!/(\.[^.[]+|\[\d+\])$/.test(q)) break;
  }
  return { line: p.source.line, column: 1 };
}

interface ArgPlan {
  spec: ArgSpec;
  kind: ArgKind;
  signed: boolean;
}

class HookCompiler {
  private readonly cfg = Buffer.alloc(HOOK_CFG.$size);
  private readonly strKeys: Buffer[] = [];
  private readonly numKeys: Buffer[] = [];
  private readonly addrKeys: Buffer[] = [];
  private readonly marks: MarkRequest[] = [];
  private plans: ArgPlan[] = [];
  private retPlan: ArgPlan | undefined;

  constructor(
    private readonly policy: TracingPolicy,
    private readonly path: string,
    private readonly spec: HookSpec,
    private readonly env: CompileEnv,
  ) {}

  compile(): CompiledHook {
    const { spec, path, cfg } = this;
    const base = this.hookBase();
    if (spec.args.length > TR.args) throw new HookError(`${path}.args`, `at most ${TR.args} arguments per hook`);
    cfg.writeUInt8(spec.args.length, HOOK_CFG.nargs);
    cfg.writeUInt8(spec.selectors.length, HOOK_CFG.nselectors);
    cfg.writeUInt8(this.policy.spec.mode === 'monitor' ? 1 : 0, HOOK_CFG.monitor);
    spec.selectors.forEach((s, i) => this.selector(s, i, HOOK_CFG.sel + i * SELECTOR_CFG.$size, `${path}.selectors[${i}]`));
    cfg.writeUInt8(this.marks.length > 0 ? 1 : 0, HOOK_CFG.needs_marks);
    const workloads = this.workloadScope();
    if (workloads) cfg.writeUInt8(1, HOOK_CFG.cgroup_filter);
    return {
      ...(workloads ? { workloads } : {}),
      ...base,
      path,
      args: this.plans.map((a) => decodeOf(a)),
      message: spec.message ?? '',
      tags: spec.tags,
      cfg,
      strKeys: this.strKeys,
      numKeys: this.numKeys,
      addrKeys: this.addrKeys,
      marks: this.marks,
      rateLimited: spec.selectors.some((s) => s.matchActions.some((a) => a.action === 'Post' && a.rateLimit !== undefined)),
    };
  }

  // ---- hook and arguments ----

  /** Why an attach kind cannot work here, or undefined when it can. */
  private missing(kind: string): string | undefined {
    const r = this.env.attach?.[kind];
    return r && !r.ok ? r.reason ?? `${kind} is not supported by this kernel` : undefined;
  }

  private hookBase(): Pick<CompiledHook, 'event' | 'program' | 'attach' | 'hookJson' | 'label' | 'target' | 'ret'> {
    const { spec, path } = this;
    switch (spec.hook) {
      case 'tracepoint': {
        const label = `${spec.subsystem}/${spec.event}`;
        const hookJson = `"subsys":${JSON.stringify(spec.subsystem)},"event":${JSON.stringify(spec.event)}`;
        if (spec.raw) {
          spec.args.forEach((a, i) => this.plan(a, i, ArgSrc.Ctx64, a.index, 8, false));
          return { event: 'process_tracepoint', program: 'pal_raw_tp', attach: [{ kind: 'raw_tp', name: spec.event }], hookJson, label };
        }
        const fields = this.env.tracepointFormat(spec.subsystem, spec.event);
        if (typeof fields === 'string') throw new HookError(`${path}.event`, fields);
        const userPtrs = spec.subsystem === 'syscalls';
        spec.args.forEach((a, i) => {
          const f = fields[a.index];
          const at = `${path}.args[${i}].index`;
          if (!f) throw new HookError(at, `${label} has ${fields.length} fields (index 0 to ${fields.length - 1}, common_* fields included); there is no field ${a.index}`);
          this.plan(a, i, ArgSrc.Tp, f.offset, f.size, userPtrs, fields);
        });
        return { event: 'process_tracepoint', program: 'pal_tp', attach: [{ kind: 'tracepoint', category: spec.subsystem, name: spec.event }], hookJson, label };
      }
      case 'uprobe': {
        spec.args.forEach((a, i) => this.plan(a, i, ArgSrc.Reg, a.index, 8, true));
        const attach: AttachSpec[] = [
          ...spec.symbols.map((symbol): AttachSpec => ({ kind: 'uprobe', binary: spec.path, symbol })),
          ...spec.offsets.map((offset): AttachSpec => ({ kind: 'uprobe', binary: spec.path, offset })),
        ];
        const where = [...spec.symbols, ...spec.offsets.map((n) => `0x${n.toString(16)}`)].join(',');
        return {
          event: 'process_uprobe', program: 'pal_uprobe', attach,
          hookJson: `"path":${JSON.stringify(spec.path)},"symbol":${JSON.stringify(where)}`,
          label: `${spec.path}:${where}`,
          ...this.ret('pal_uretprobe', attach.map((a) => ({ ...a, retprobe: true }))),
        };
      }
      case 'kprobe': {
        const call = spec.syscall && !spec.call.startsWith('__x64_sys_') ? `__x64_sys_${spec.call.replace(/^sys_/, '')}` : spec.call;
        const hookJson = `"function_name":${JSON.stringify(call)}`;
        const noKprobe = this.missing('kprobe');
        if (!noKprobe) {
          // A syscall's kprobe sits on the __x64_sys_ wrapper, whose one argument is the user's pt_regs.
          spec.args.forEach((a, i) => this.plan(a, i, spec.syscall ? ArgSrc.SysReg : ArgSrc.Reg, a.index, 8, spec.syscall));
          return {
            event: 'process_kprobe', program: 'pal_kprobe', attach: [{ kind: 'kprobe', func: call }], hookJson, label: call,
            ...this.ret('pal_kretprobe', [{ kind: 'kprobe', func: call, retprobe: true }]),
          };
        }
        // The feature probe's fallback: fentry reads the same arguments from its context.
        const noFentry = this.missing('fentry');
        if (noFentry) throw new HookError(path, `needs kprobes or their fentry fallback, and this kernel has neither: kprobe: ${noKprobe}; fentry: ${noFentry}`);
        if (spec.syscall) throw new HookError(`${path}.syscall`, `kprobes are not available here (${noKprobe}) and a syscall's fentry fallback would see its pt_regs, not its arguments: use a syscalls tracepoint`);
        spec.args.forEach((a, i) => this.plan(a, i, ArgSrc.Ctx64, a.index, 8, false));
        return {
          event: 'process_kprobe', program: 'pal_fentry', attach: [{ kind: 'fentry' }], target: call, hookJson, label: call,
          ...this.ret('pal_fexit', [{ kind: 'fentry' }]),
        };
      }
      case 'lsmhook': {
        const noLsm = this.missing('lsm');
        if (noLsm) throw new HookError(path, `needs BPF LSM programs, which this kernel refuses: ${noLsm}`);
        spec.args.forEach((a, i) => this.plan(a, i, ArgSrc.Ctx64, a.index, 8, false));
        return {
          event: 'process_lsm', program: 'pal_lsm', attach: [{ kind: 'lsm' }], target: spec.lsmHook,
          hookJson: `"function_name":${JSON.stringify(spec.lsmHook)}`, label: `lsm/${spec.lsmHook}`,
        };
      }
    }
  }

  private workloadScope(): WorkloadScope | undefined {
    const { spec, metadata } = this.policy;
    if (spec.containerSelector) {
      throw new HookError('spec.containerSelector', 'containerSelector needs the names Kubernetes gives containers, which a standalone agent does not know: select with podSelector labels');
    }
    const scope: WorkloadScope = {};
    if (spec.podSelector) scope.selector = spec.podSelector;
    if (this.policy.kind === 'TracingPolicyNamespaced' && metadata.namespace !== undefined) scope.namespace = metadata.namespace;
    return scope.selector || scope.namespace !== undefined ? scope : undefined;
  }

  /** return: true — plans the return value into the last args slot and names the return program. */
  private ret(program: ProgramName, attach: AttachSpec[]): Pick<CompiledHook, 'ret'> {
    const spec = this.spec;
    if (spec.hook !== 'kprobe' && spec.hook !== 'uprobe') return {};
    if (!spec.return || !spec.returnArg) return {};
    const info = ARG_TYPE_INFO[spec.returnArg.type];
    if (info?.cls !== 'int') {
      throw new HookError(`${this.path}.returnArg.type`, `a return value is decoded as an integer type (int, long, size_t, …), not ${spec.returnArg.type}`);
    }
    const o = HOOK_CFG.args + TR.args * ARG_CFG.$size;
    this.cfg.writeUInt8(1, HOOK_CFG.has_return);
    this.cfg.writeUInt8(ArgSrc.Ret, o + ARG_CFG.src);
    this.cfg.writeUInt8(ArgKind.Int, o + ARG_CFG.kind);
    this.cfg.writeUInt8(info.bits! / 8, o + ARG_CFG.size);
    this.cfg.writeUInt8(info.signed ? 1 : 0, o + ARG_CFG.is_signed);
    this.retPlan = { spec: spec.returnArg, kind: ArgKind.Int, signed: info.signed ?? false };
    return { ret: { program, attach, decode: decodeOf(this.retPlan) } };
  }

  /**
   * Fills args[i] of the cfg: where the value is (src, at, rawSize) and what it is (the policy type).
   * `fields`: the tracepoint's format, for PAL_SRC_TP (the size of a char_buf is another field).
   */
  private plan(a: ArgSpec, i: number, src: ArgSrc, at: number, rawSize: number, userPtrs: boolean, fields?: TracepointField[]): void {
    const where = `${this.path}.args[${i}].type`;
    const field = fields?.[a.index];
    const info = ARG_TYPE_INFO[a.type];
    let kind: ArgKind;
    let size = rawSize;
    let signed = false;
    if (info?.cls === 'int') {
      kind = ArgKind.Int;
      size = Math.min(rawSize, info.bits! / 8);
      signed = info.signed ?? false;
    } else if (field?.isDataLoc) {
      if (a.type !== 'string' && a.type !== 'filename') throw new HookError(where, `field ${a.index} (${field.decl}) is a __data_loc string: read it as string`);
      kind = ArgKind.DataLoc;
      size = 4;
    } else if (a.type === 'filename' && !userPtrs && !fields) {
      kind = ArgKind.KFilename; // a kernel function's struct filename *
    } else if (a.type === 'string' || a.type === 'filename') {
      if (field && !field.isPointer) throw new HookError(where, `${a.type} needs a pointer field; field ${a.index} is "${field.decl}"`);
      kind = userPtrs ? ArgKind.UStr : ArgKind.KStr;
    } else if (a.type === 'fd') {
      kind = ArgKind.Fd;
      size = Math.min(rawSize, 4);
    } else if (a.type === 'capability') {
      kind = ArgKind.Int; // a capability number, printed by name
      size = Math.min(rawSize, 4);
      signed = true;
    } else if (a.type === 'file' || a.type === 'path' || a.type === 'sock' || a.type === 'cred') {
      if (userPtrs) throw new HookError(where, `${a.type} is a kernel struct pointer: a syscall hook gives user values (use fd for a descriptor)`);
      if (field && !field.isPointer) throw new HookError(where, `${a.type} needs a pointer field; field ${a.index} is "${field.decl}"`);
      kind = { file: ArgKind.KFile, path: ArgKind.KPath, sock: ArgKind.KSock, cred: ArgKind.KCred }[a.type];
    } else if (a.type === 'char_buf') {
      if (!userPtrs) throw new HookError(where, 'char_buf is read from user memory: only syscall tracepoints, uprobes and syscall kprobes have user pointers');
      kind = ArgKind.UBuf;
    } else if (a.type === 'sockaddr') {
      if (!userPtrs) throw new HookError(where, 'sockaddr is read from user memory here: only syscall tracepoints and uprobes give a user pointer');
      kind = ArgKind.USockaddr;
    } else {
      throw new HookError(where, `type ${a.type} is not decoded on ${this.spec.hook}s by Palisade yet (supported: integers, string, filename, char_buf, sockaddr, fd, file, path, sock, cred, capability)`);
    }
    const o = HOOK_CFG.args + i * ARG_CFG.$size;
    const cfg = this.cfg;
    cfg.writeUInt8(src, o + ARG_CFG.src);
    cfg.writeUInt8(kind, o + ARG_CFG.kind);
    cfg.writeUInt8(size, o + ARG_CFG.size);
    cfg.writeUInt8(signed ? 1 : 0, o + ARG_CFG.is_signed);
    cfg.writeUInt16LE(at, o + ARG_CFG.at);
    cfg.writeUInt16LE(TR.strMax, o + ARG_CFG.max);
    if (kind === ArgKind.UBuf && a.sizeArgIndex !== undefined && a.sizeArgIndex > 0) {
      // The length comes from the same place arguments do: a field of the record, or a slot/register.
      const idx = a.sizeArgIndex - 1;
      const f = fields?.[idx];
      if (fields && !f) throw new HookError(`${this.path}.args[${i}].sizeArgIndex`, `no field ${idx} for the size`);
      cfg.writeUInt8(src, o + ARG_CFG.len_src);
      cfg.writeUInt8(f ? Math.min(f.size, 8) : 8, o + ARG_CFG.len_size);
      cfg.writeUInt16LE(f ? f.offset : idx, o + ARG_CFG.len_at);
    }
    this.plans[i] = { spec: a, kind, signed };
  }

  // ---- selectors ----

  private selector(s: Selector, si: number, o: number, path: string): void {
    const cfg = this.cfg;
    if ((s.matchReturnArgs.length > 0 || s.matchReturnActions.length > 0) && !this.retPlan) {
      throw new HookError(`${path}.${s.matchReturnArgs.length > 0 ? 'matchReturnArgs' : 'matchReturnActions'}`, 'needs a return probe: set return: true and a returnArg on the hook');
    }
    if (s.matchReturnArgs.length > TR.retArgs) throw new HookError(`${path}.matchReturnArgs`, `at most ${TR.retArgs} filters`);
    cfg.writeUInt8(s.matchReturnArgs.length, o + SELECTOR_CFG.nret_args);
    s.matchReturnArgs.forEach((f, k) => this.argFilter(f, o + SELECTOR_CFG.ret_args + k * ARG_FILTER.$size, (si << 8) | 0x40 | (k << 1), `${path}.matchReturnArgs[${k}]`, true));
    cfg.writeUInt8(s.matchReturnActions.length, o + SELECTOR_CFG.nret_actions);
    s.matchReturnActions.forEach((a, k) => this.action(a, o + SELECTOR_CFG.ret_actions + k * ACTION_CFG.$size));
    if (s.matchNamespaceChanges.length > 0) throw new HookError(`${path}.matchNamespaceChanges`, 'not supported by Palisade yet');
    if (s.matchCapabilityChanges.length > 0) throw new HookError(`${path}.matchCapabilityChanges`, 'not supported by Palisade yet');

    if (s.matchArgs.length > TR.matchArgs) throw new HookError(`${path}.matchArgs`, `at most ${TR.matchArgs} filters`);
    cfg.writeUInt8(s.matchArgs.length, o + SELECTOR_CFG.nargs);
    s.matchArgs.forEach((f, k) => this.argFilter(f, o + SELECTOR_CFG.args + k * ARG_FILTER.$size, (si << 8) | (k << 1), `${path}.matchArgs[${k}]`));

    cfg.writeUInt8(s.matchPIDs.length, o + SELECTOR_CFG.npids);
    s.matchPIDs.forEach((f, k) => {
      const po = o + SELECTOR_CFG.pids + k * PID_FILTER.$size;
      const mapId = (si << 8) | 0x80 | (k << 1);
      cfg.writeUInt8(f.operator === 'NotIn' ? 1 : 0, po + PID_FILTER.not_in);
      cfg.writeUInt8(f.isNamespacePID ? 1 : 0, po + PID_FILTER.ns_pid);
      cfg.writeUInt8(f.followForks ? 1 : 0, po + PID_FILTER.follow);
      cfg.writeUInt32LE(mapId, po + PID_FILTER.map_id);
      for (const pid of f.values) this.numKeys.push(numKey(mapId, BigInt(pid)));
      if (f.followForks) this.marks.push({ kind: 'pids', offset: po + PID_FILTER.mark, pids: f.values, nsPid: f.isNamespacePID });
    });

    const bin = s.matchBinaries[0];
    if (bin) {
      cfg.writeUInt8(bin.operator.startsWith('Not') ? 2 : 1, o + SELECTOR_CFG.bin_op);
      this.marks.push({ kind: 'binary', offset: o + SELECTOR_CFG.bin_mark, filter: bin });
    }

    cfg.writeUInt8(s.matchNamespaces.length, o + SELECTOR_CFG.nns);
    s.matchNamespaces.forEach((f, k) => {
      const no = o + SELECTOR_CFG.ns + k * NS_FILTER.$size;
      const idx = NS_INDEX[f.namespace];
      cfg.writeUInt8(idx, no + NS_FILTER.ns);
      cfg.writeUInt8(f.operator === 'NotIn' ? 1 : 0, no + NS_FILTER.not_in);
      cfg.writeUInt8(f.values.length, no + NS_FILTER.nvalues);
      f.values.forEach((v, j) => cfg.writeUInt32LE(v === 'host_ns' ? this.env.hostNs[idx] ?? 0 : v, no + NS_FILTER.values + 4 * j));
    });

    cfg.writeUInt8(s.matchCapabilities.length, o + SELECTOR_CFG.ncaps);
    s.matchCapabilities.forEach((f, k) => {
      if (f.isNamespaceCapability) throw new HookError(`${path}.matchCapabilities[${k}].isNamespaceCapability`, 'not supported by Palisade yet');
      const co = o + SELECTOR_CFG.caps + k * CAP_FILTER.$size;
      let mask = 0n;
      for (const name of f.values) mask |= 1n << BigInt(CAPABILITIES.indexOf(name));
      cfg.writeUInt8(f.type === 'Effective' ? 0 : f.type === 'Inheritable' ? 1 : 2, co + CAP_FILTER.set);
      cfg.writeUInt8(f.operator === 'NotIn' ? 1 : 0, co + CAP_FILTER.not_in);
      cfg.writeBigUInt64LE(mask, co + CAP_FILTER.mask);
    });

    cfg.writeUInt8(s.matchActions.length, o + SELECTOR_CFG.nactions);
    s.matchActions.forEach((a, k) => this.action(a, o + SELECTOR_CFG.actions + k * ACTION_CFG.$size));
  }

  private action(a: Action, o: number): void {
    const cfg = this.cfg;
    switch (a.action) {
      case 'Post':
        cfg.writeUInt8(ActKind.Post, o + ACTION_CFG.kind);
        if (a.rateLimit) {
          cfg.writeUInt8(a.rateLimit.scope === 'thread' ? 0 : a.rateLimit.scope === 'process' ? 1 : 2, o + ACTION_CFG.rate_scope);
          cfg.writeUInt32LE(a.rateLimit.ms, o + ACTION_CFG.rate_ms);
        }
        return;
      case 'NoPost':
        cfg.writeUInt8(ActKind.NoPost, o + ACTION_CFG.kind);
        return;
      case 'Sigkill':
        cfg.writeUInt8(ActKind.Sigkill, o + ACTION_CFG.kind);
        cfg.writeInt32LE(9, o + ACTION_CFG.value);
        return;
      case 'Signal':
        cfg.writeUInt8(ActKind.Signal, o + ACTION_CFG.kind);
        cfg.writeInt32LE(a.argSig, o + ACTION_CFG.value);
        return;
      case 'Override':
        if (this.spec.hook === 'kprobe') {
          throw new HookError(`${this.path}.selectors`, 'Override on a kprobe is not supported by Palisade: it needs bpf_override_return on a function of the kernel\'s error-injection list, which many kernels lack; deny with an lsmhook (file_open, bprm_check_security, …) instead');
        }
        cfg.writeUInt8(ActKind.Override, o + ACTION_CFG.kind);
        cfg.writeInt32LE(a.argError > 0 ? -a.argError : a.argError, o + ACTION_CFG.value);
        return;
    }
  }

  private argFilter(f: ArgFilter, o: number, mapId: number, path: string, onReturn = false): void {
    const plan = onReturn ? this.retPlan : this.plans.find((p) => p.spec.index === f.index);
    if (!plan) throw new HookError(`${path}.index`, `argument ${f.index} is not captured: add it to the hook's args`);
    const slot = onReturn ? TR.args : this.plans.indexOf(plan);
    const cfg = this.cfg;
    const put = (op: Op, values: bigint[] = []): void => {
      if (values.length > TR.values) throw new HookError(`${path}.values`, `at most ${TR.values} values`);
      cfg.writeUInt8(slot, o + ARG_FILTER.arg);
      cfg.writeUInt8(op, o + ARG_FILTER.op);
      cfg.writeUInt8(values.length, o + ARG_FILTER.nvalues);
      cfg.writeUInt32LE(mapId, o + ARG_FILTER.map_id);
      values.forEach((v, j) => cfg.writeBigUInt64LE(BigInt.asUintN(64, v), o + ARG_FILTER.values + 8 * j));
    };
    const unsupported = (): never => {
      throw new HookError(`${path}.operator`, `${f.operator} on a ${plan.spec.type} argument is not supported by Palisade`);
    };
    const nums = (): bigint[] => {
      const p = f.parsed;
      if (p.kind === 'ints') return p.values;
      if (p.kind === 'ranges') return p.values.flatMap(([lo, hi]) => (lo === hi ? [lo] : [lo, hi]));
      return unsupported();
    };
    const toSet = (op: Op): void => {
      const p = f.parsed;
      if (p.kind !== 'ranges' && p.kind !== 'ints') unsupported();
      if (p.kind === 'ranges' && p.lists.length > 0) throw new HookError(`${path}.values`, 'list: values are not supported in matchArgs by Palisade yet');
      const pairs: Array<[bigint, bigint]> = p.kind === 'ranges' ? p.values : (p.kind === 'ints' ? p.values.map((v): [bigint, bigint] => [v, v]) : []);
      for (const [lo, hi] of pairs) for (let v = lo; v <= hi; v++) this.numKeys.push(numKey(mapId, v));
      put(op);
    };

    if (plan.kind === ArgKind.Int) {
      switch (f.operator) {
        case 'Equal': return f.parsed.kind === 'ints' && f.parsed.values.length <= TR.values ? put(Op.Eq, nums()) : toSet(Op.InMap);
        case 'NotEqual': return f.parsed.kind === 'ints' && f.parsed.values.length <= TR.values ? put(Op.Ne, nums()) : toSet(Op.NotInMap);
        case 'GT': return put(Op.Gt, nums().slice(0, 1));
        case 'LT': return put(Op.Lt, nums().slice(0, 1));
        case 'Mask': return put(Op.Mask, nums());
        case 'InRange':
        case 'NotInRange': {
          const p = f.parsed;
          if (p.kind !== 'ranges') return unsupported();
          if (p.values.length <= TR.values / 2) return put(f.operator === 'InRange' ? Op.InRange : Op.NotInRange, p.values.flat());
          return toSet(f.operator === 'InRange' ? Op.InMap : Op.NotInMap);
        }
        case 'InMap': return toSet(Op.InMap);
        case 'NotInMap': return toSet(Op.NotInMap);
        default: return unsupported();
      }
    }
    if (plan.kind === ArgKind.USockaddr || plan.kind === ArgKind.KSock) {
      // a sock has both ends; a sockaddr names one (the parser allows only the S* operators on it)
      if (plan.kind === ArgKind.KSock && f.operator.replace(/^Not/, '').startsWith('D')) cfg.writeUInt8(1, o + ARG_FILTER.dst);
      switch (f.operator) {
        case 'Family': return toSet(Op.Family);
        case 'Protocol': return plan.kind === ArgKind.KSock ? toSet(Op.Protocol) : unsupported();
        case 'SPort': case 'DPort': return toSet(Op.Port);
        case 'NotSPort': case 'NotDPort': return toSet(Op.NotPort);
        case 'SPortPriv': case 'DPortPriv': return put(Op.PortPriv);
        case 'NotSPortPriv': case 'NotDPortPriv': return put(Op.NotPortPriv);
        case 'SAddr': case 'DAddr': case 'NotSAddr': case 'NotDAddr': {
          const p = f.parsed;
          if (p.kind !== 'cidrs') return unsupported();
          for (const c of p.values) this.addrKeys.push(addrKey(mapId | (c.family === 6 ? 1 : 0), c.address, c.family, c.prefixLen));
          return put(f.operator.startsWith('Not') ? Op.NotAddr : Op.Addr);
        }
        default: return unsupported();
      }
    }
    // strings and buffers
    const p = f.parsed;
    if (p.kind !== 'strings') return unsupported();
    switch (f.operator) {
      case 'Equal':
      case 'NotEqual':
        for (const v of p.values) this.strKeys.push(strKey(mapId, Buffer.concat([Buffer.from(v), Buffer.alloc(1)])));
        return put(f.operator === 'Equal' ? Op.StrEq : Op.StrNe);
      case 'Prefix':
      case 'NotPrefix':
        for (const v of p.values) this.strKeys.push(strKey(mapId, Buffer.from(v)));
        return put(f.operator === 'Prefix' ? Op.Prefix : Op.NotPrefix);
      case 'Postfix':
      case 'NotPostfix':
        for (const v of p.values) this.strKeys.push(strKey(mapId, Buffer.from(v).reverse()));
        return put(f.operator === 'Postfix' ? Op.Postfix : Op.NotPostfix);
      default:
        return unsupported();
    }
  }
}

function decodeOf(a: ArgPlan): ArgDecode {
  switch (a.kind) {
    case ArgKind.UStr:
    case ArgKind.KStr:
      return 'string';
    case ArgKind.UBuf:
      return 'bytes';
    case ArgKind.USockaddr:
      return 'sockaddr';
    case ArgKind.KFile:
    case ArgKind.Fd:
      return 'file';
    case ArgKind.KPath:
      return 'path';
    case ArgKind.KSock:
      return 'sock';
    case ArgKind.KCred:
      return 'cred';
    case ArgKind.KFilename:
    case ArgKind.DataLoc:
      return 'string';
    default: {
      if (a.spec.type === 'size_t') return 'size_t';
      if (a.spec.type === 'capability') return 'capability';
      const bits = ARG_TYPE_INFO[a.spec.type]?.bits ?? 64;
      return bits === 64 ? (a.signed ? 'long' : 'ulong') : a.signed ? 'int' : 'uint';
    }
  }
}

function strKey(mapId: number, bytes: Buffer): Buffer {
  const k = Buffer.alloc(STR_KEY.$size);
  k.writeUInt32LE(32 + 8 * bytes.length, STR_KEY.prefixlen);
  k.writeUInt32BE(mapId, STR_KEY.map_id);
  bytes.copy(k, STR_KEY.data);
  return k;
}

function numKey(mapId: number, v: bigint): Buffer {
  const k = Buffer.alloc(NUM_KEY.$size);
  k.writeUInt32LE(mapId, NUM_KEY.map_id);
  k.writeBigUInt64LE(BigInt.asUintN(64, v), NUM_KEY.value);
  return k;
}

function addrKey(mapId: number, address: string, family: 4 | 6, prefixLen: number): Buffer {
  const k = Buffer.alloc(ADDR_KEY.$size);
  k.writeUInt32LE(32 + prefixLen, ADDR_KEY.prefixlen);
  k.writeUInt32BE(mapId, ADDR_KEY.map_id);
  ipBytes(address, family).copy(k, ADDR_KEY.addr);
  return k;
}

function ipBytes(address: string, family: 4 | 6): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), 2 * i));
  return b;
}

/** pal_bin_names key for a matchBinaries value (the loader merges masks of overlapping prefixes). */
export function binKey(kind: BinKind, path: string): Buffer {
  const k = Buffer.alloc(BIN_KEY.$size);
  let bytes = Buffer.from(path);
  if (kind === BinKind.Exact) bytes = Buffer.concat([bytes, Buffer.alloc(1)]);
  if (kind === BinKind.Postfix) bytes = Buffer.from(bytes).reverse();
  k.writeUInt32LE(32 + 8 * bytes.length, BIN_KEY.prefixlen);
  k.writeUInt32BE(kind, BIN_KEY.kind);
  bytes.copy(k, BIN_KEY.path);
  return k;
}
