// The selector compiler: policy → pal_hook_cfg bytes and filter map keys, against fixed kernel facts.
import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompileEnv } from '../../tracing/compile/compile.js';
import {
  ACTION_CFG, ADDR_KEY, ARG_CFG, ARG_FILTER, ArgKind, ArgSrc, ActKind, HOOK_CFG, NUM_KEY, Op, SELECTOR_CFG, STR_KEY,
} from '../../tracing/compile/layout.js';
import { parseFormat } from '../../tracing/compile/tracefs.js';
import { parsePolicies } from '../../tracing/policy/index.js';

const OPENAT = parseFormat(`name: sys_enter_openat
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:int flags;	offset:32;	size:8;	signed:0;
	field:umode_t mode;	offset:40;	size:8;	signed:0;
`);

const env: CompileEnv = {
  tracepointFormat: (s, e) => (s === 'syscalls' && e === 'sys_enter_openat' ? OPENAT : `the kernel has no tracepoint ${s}/${e}`),
  hostNs: [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
};

function compile(yaml: string) {
  const parsed = parsePolicies(yaml, 'p.yaml');
  expect(parsed.errors).toEqual([]);
  return compilePolicy(parsed.policies[0]!, env);
}

const head = (name: string) => `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: ${name}\nspec:\n`;
const sel = (cfg: Buffer, i: number) => HOOK_CFG.sel + i * SELECTOR_CFG.$size;

describe('selector compiler', () => {
  it('lays out tracepoint arguments from the format file and string filters as LPM keys', () => {
    const r = compile(head('tp') + `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    args:
    - {index: 5, type: int}
    - {index: 6, type: string}
    selectors:
    - matchArgs:
      - {index: 6, operator: Prefix, values: ["/etc/"]}
      - {index: 6, operator: Postfix, values: [".conf"]}
      - {index: 5, operator: Equal, values: ["-100"]}
      matchNamespaces:
      - {namespace: Mnt, operator: NotIn, values: ["host_ns", "4026531999"]}
    - matchArgs:
      - {index: 6, operator: Equal, values: ["/etc/shadow"]}
      matchActions:
      - action: Sigkill
`);
    expect(r.errors).toEqual([]);
    const h = r.hooks[0]!;
    expect(h).toMatchObject({ program: 'pal_tp', event: 'process_tracepoint', label: 'syscalls/sys_enter_openat', args: ['int', 'string'] });
    expect(h.attach).toEqual([{ kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' }]);
    const c = h.cfg;
    expect([c[HOOK_CFG.nargs], c[HOOK_CFG.nselectors], c[HOOK_CFG.monitor]]).toEqual([2, 2, 0]);
    // dfd: int read as 4 signed bytes at offset 16; filename: a user string pointer at 24
    const a0 = HOOK_CFG.args;
    expect([c[a0 + ARG_CFG.src], c[a0 + ARG_CFG.kind], c[a0 + ARG_CFG.size], c[a0 + ARG_CFG.is_signed], c.readUInt16LE(a0 + ARG_CFG.at)]).toEqual([ArgSrc.Tp, ArgKind.Int, 4, 1, 16]);
    const a1 = HOOK_CFG.args + ARG_CFG.$size;
    expect([c[a1 + ARG_CFG.kind], c.readUInt16LE(a1 + ARG_CFG.at)]).toEqual([ArgKind.UStr, 24]);

    const s0 = sel(c, 0);
    const f = (k: number) => s0 + SELECTOR_CFG.args + k * ARG_FILTER.$size;
    expect([c[s0 + SELECTOR_CFG.nargs], c[f(0) + ARG_FILTER.arg], c[f(0) + ARG_FILTER.op]]).toEqual([3, 1, Op.Prefix]);
    expect(c[f(1) + ARG_FILTER.op]).toBe(Op.Postfix);
    expect([c[f(2) + ARG_FILTER.op], c[f(2) + ARG_FILTER.nvalues], c.readBigInt64LE(f(2) + ARG_FILTER.values)]).toEqual([Op.Eq, 1, -100n]);
    expect(c[s0 + SELECTOR_CFG.nns]).toBe(1);
    expect(c.readUInt32LE(s0 + SELECTOR_CFG.ns + 4)).toBe(13); // host_ns of Mnt resolved
    expect(c.readUInt32LE(s0 + SELECTOR_CFG.ns + 8)).toBe(4026531999);

    // keys: prefix without NUL, postfix reversed, equal with NUL; each under its filter's id
    const keys = h.strKeys.map((k) => ({ id: k.readUInt32BE(STR_KEY.map_id), bits: k.readUInt32LE(STR_KEY.prefixlen), text: k.subarray(STR_KEY.data, STR_KEY.data + (k.readUInt32LE(STR_KEY.prefixlen) - 32) / 8).toString('latin1') }));
    expect(keys).toEqual([
      { id: c.readUInt32LE(f(0) + ARG_FILTER.map_id), bits: 32 + 8 * 5, text: '/etc/' },
      { id: c.readUInt32LE(f(1) + ARG_FILTER.map_id), bits: 32 + 8 * 5, text: 'fnoc.' },
      { id: c.readUInt32LE(sel(c, 1) + SELECTOR_CFG.args + ARG_FILTER.map_id), bits: 32 + 8 * 12, text: '/etc/shadow\0' },
    ]);
    expect(new Set(keys.map((k) => k.id)).size).toBe(3);
    expect(c[sel(c, 1) + SELECTOR_CFG.actions + ACTION_CFG.kind]).toBe(ActKind.Sigkill);
  });

  it('compiles kprobes to register arguments and syscall names, LSM Override to a negative errno', () => {
    const kp = compile(head('kp') + `  kprobes:
  - call: sys_connect
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: sockaddr}
    selectors:
    - matchArgs:
      - {index: 1, operator: SPort, values: ["80", "8000:8002"]}
      - {index: 1, operator: NotSAddr, values: ["127.0.0.0/8", "::1"]}
`);
    expect(kp.errors).toEqual([]);
    const h = kp.hooks[0]!;
    expect(h).toMatchObject({ program: 'pal_kprobe', event: 'process_kprobe', attach: [{ kind: 'kprobe', func: '__x64_sys_connect' }], args: ['int', 'sockaddr'] });
    expect(h.cfg[HOOK_CFG.args + ARG_CFG.src]).toBe(ArgSrc.SysReg); // the wrapper's pt_regs argument, then the syscall's
    expect(h.numKeys.map((k) => Number(k.readBigUInt64LE(NUM_KEY.value)))).toEqual([80, 8000, 8001, 8002]);
    const ids = h.addrKeys.map((k) => [k.readUInt32BE(ADDR_KEY.map_id) & 1, k.readUInt32LE(ADDR_KEY.prefixlen) - 32]);
    expect(ids).toEqual([[0, 8], [1, 128]]); // IPv6 entries under the odd id

    const kpOverride = compile(head('kpo') + `  kprobes:
  - call: do_unlinkat
    syscall: false
    args:
    - {index: 0, type: int}
    selectors:
    - matchActions:
      - {action: Override, argError: -1}
`);
    expect(kpOverride.errors.map((e) => e.message)[0]).toMatch(/^Override on a kprobe is not supported by Palisade: .* deny with an lsmhook/);

    const lsm = compile(head('lsm') + `  lsmhooks:
  - hook: file_open
    args:
    - {index: 0, type: int}
    selectors:
    - matchActions:
      - {action: Override, argError: -1}
`);
    expect(lsm.errors).toEqual([]);
    const l = lsm.hooks[0]!;
    expect(l).toMatchObject({ program: 'pal_lsm', attach: [{ kind: 'lsm' }], label: 'lsm/file_open' });
    const act = sel(l.cfg, 0) + SELECTOR_CFG.actions;
    expect([l.cfg[act + ACTION_CFG.kind], l.cfg.readInt32LE(act + ACTION_CFG.value)]).toEqual([ActKind.Override, -1]);
  });

  it('falls back from kprobes to fentry as the feature probe says, or names what is missing', () => {
    const yaml = (syscall: boolean) => head('fb') + `  kprobes:
  - call: do_unlinkat
    syscall: ${syscall}
    args:
    - {index: 0, type: int}
`;
    const parsed = (syscall: boolean) => parsePolicies(yaml(syscall), 'p.yaml').policies[0]!;
    const noKprobe = { ok: false, reason: 'no kprobes here' };
    const fb = compilePolicy(parsed(false), { ...env, attach: { kprobe: noKprobe, fentry: { ok: true } } });
    expect(fb.errors).toEqual([]);
    expect(fb.hooks[0]).toMatchObject({ program: 'pal_fentry', target: 'do_unlinkat', attach: [{ kind: 'fentry' }], event: 'process_kprobe' });
    expect(fb.hooks[0]!.cfg[HOOK_CFG.args + ARG_CFG.src]).toBe(ArgSrc.Ctx64);
    const sys = compilePolicy(parsed(true), { ...env, attach: { kprobe: noKprobe, fentry: { ok: true } } });
    expect(sys.errors[0]!.path).toBe('spec.kprobes[0].syscall');
    const none = compilePolicy(parsed(false), { ...env, attach: { kprobe: noKprobe, fentry: { ok: false, reason: 'EPERM' } } });
    expect(none.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.kprobes[0]: needs kprobes or their fentry fallback, and this kernel has neither: kprobe: no kprobes here; fentry: EPERM',
    ]);
  });

  it('compiles return probes: kretprobe or fexit beside the entry, returnArg in the last slot, matchReturnArgs on it', () => {
    const yaml = head('ret') + `  kprobes:
  - call: do_unlinkat
    syscall: false
    return: true
    args:
    - {index: 0, type: int}
    returnArg: {index: 0, type: int}
    selectors:
    - matchReturnArgs:
      - {operator: Equal, values: ["-2"]}
      matchReturnActions:
      - {action: Sigkill}
`;
    const pol = parsePolicies(yaml, 'p.yaml').policies[0]!;
    const kp = compilePolicy(pol, env);
    expect(kp.errors).toEqual([]);
    const h = kp.hooks[0]!;
    expect(h.ret).toEqual({ program: 'pal_kretprobe', attach: [{ kind: 'kprobe', func: 'do_unlinkat', retprobe: true }], decode: 'int' });
    const ret = HOOK_CFG.args + 5 * ARG_CFG.$size;
    expect([h.cfg[HOOK_CFG.has_return], h.cfg[ret + ARG_CFG.src], h.cfg[ret + ARG_CFG.size], h.cfg[ret + ARG_CFG.is_signed]]).toEqual([1, ArgSrc.Ret, 4, 1]);
    const f = sel(h.cfg, 0) + SELECTOR_CFG.ret_args;
    expect([h.cfg[sel(h.cfg, 0) + SELECTOR_CFG.nret_args], h.cfg[f + ARG_FILTER.arg], h.cfg[f + ARG_FILTER.op], h.cfg.readBigInt64LE(f + ARG_FILTER.values)]).toEqual([1, 5, Op.Eq, -2n]);
    expect([h.cfg[sel(h.cfg, 0) + SELECTOR_CFG.nret_actions], h.cfg[sel(h.cfg, 0) + SELECTOR_CFG.ret_actions + ACTION_CFG.kind]]).toEqual([1, ActKind.Sigkill]);

    const fb = compilePolicy(pol, { ...env, attach: { kprobe: { ok: false, reason: 'no kprobes' }, fentry: { ok: true } } });
    expect(fb.hooks[0]).toMatchObject({ program: 'pal_fentry', target: 'do_unlinkat', ret: { program: 'pal_fexit', attach: [{ kind: 'fentry' }] } });

    const noRet = parsePolicies(head('noret') + `  kprobes:
  - call: do_unlinkat
    syscall: false
    args:
    - {index: 0, type: int}
    selectors:
    - matchReturnActions:
      - {action: Post}
`, 'p.yaml');
    expect(noRet.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`)).toEqual([
      '12:7 spec.kprobes[0].selectors[0].matchReturnActions: needs return: true and a returnArg on the hook',
    ]);
  });

  it('scopes podSelector and namespaced policies to workload cgroups; refuses containerSelector', () => {
    const hook = `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
`;
    const pod = compile(head('pod') + `  podSelector:
    matchLabels: {app: web}
` + hook);
    expect(pod.hooks[0]!.workloads).toEqual({ selector: { matchLabels: { app: 'web' }, matchExpressions: [] } });
    expect(pod.hooks[0]!.cfg[HOOK_CFG.cgroup_filter]).toBe(1);
    const ns = compile(head('ns').replace('kind: TracingPolicy', 'kind: TracingPolicyNamespaced').replace('  name: ns', '  name: ns\n  namespace: shop') + hook);
    expect(ns.hooks[0]!.workloads).toEqual({ namespace: 'shop' });
    const all = compile(head('all') + hook);
    expect([all.hooks[0]!.workloads, all.hooks[0]!.cfg[HOOK_CFG.cgroup_filter]]).toEqual([undefined, 0]);
    const ctr = compile(head('ctr') + `  containerSelector:
    matchLabels: {name: nginx}
` + hook);
    expect(ctr.errors.map((e) => `${e.line}:${e.column} ${e.path}`)).toEqual(['6:3 spec.containerSelector']);
  });

  it('reads a char_buf length from the field sizeArgIndex names', () => {
    const r = compile(head('buf') + `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    args:
    - {index: 6, type: char_buf, sizeArgIndex: 8}
`);
    expect(r.errors).toEqual([]);
    const a = HOOK_CFG.args;
    const c = r.hooks[0]!.cfg;
    expect(r.hooks[0]!.args).toEqual(['bytes']);
    // sizeArgIndex 8 is field 7 (flags: offset 32, 8 bytes in the record)
    expect([c[a + ARG_CFG.kind], c[a + ARG_CFG.len_src], c[a + ARG_CFG.len_size], c.readUInt16LE(a + ARG_CFG.len_at)]).toEqual([ArgKind.UBuf, ArgSrc.Tp, 8, 32]);
  });

  it('names file, line and field when the kernel facts do not fit the policy', () => {
    const r = compile(head('bad') + `  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    args:
    - {index: 9, type: int}
  - subsystem: syscalls
    event: sys_enter_nope
    args:
    - {index: 5, type: int}
  - subsystem: syscalls
    event: sys_enter_openat
    args:
    - {index: 5, type: string}
`);
    expect(r.errors.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`)).toEqual([
      'p.yaml:10 spec.tracepoints[0].args[0].index: syscalls/sys_enter_openat has 9 fields (index 0 to 8, common_* fields included); there is no field 9',
      'p.yaml:12 spec.tracepoints[1].event: the kernel has no tracepoint syscalls/sys_enter_nope',
      'p.yaml:18 spec.tracepoints[2].args[0].type: string needs a pointer field; field 5 is "int dfd"',
    ]);
  });
});
