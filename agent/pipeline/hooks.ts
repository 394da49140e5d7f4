// The hook registry: what a pal_hook record's hook_id means (which policy, which hook, how to
// read its arguments). Tracing sensors register hooks here when they load a policy.

/** Raw argument types a hook record carries in its 64-bit slots. */
export type HookArgType = 'int' | 'uint' | 'long' | 'ulong' | 'size_t';

export type HookEventType = 'process_tracepoint' | 'process_kprobe' | 'process_uprobe' | 'process_lsm';

export interface HookInfo {
  id: number;
  event: HookEventType;
  policyName: string;
  /** "syscalls/sys_enter_openat", a kernel function, "binary:symbol" … */
  hook: string;
  args: HookArgType[];
  message: string;
  tags: string[];
  /** Pre-built JSON of the fixed part, so an event costs no JSON.stringify for it. */
  fixedJson: string;
}

export class HookRegistry {
  private readonly hooks: (HookInfo | undefined)[] = [];

  register(info: Omit<HookInfo, 'id' | 'fixedJson'>): HookInfo {
    let id = this.hooks.indexOf(undefined);
    if (id < 0) id = this.hooks.length;
    const fixedJson =
      `"policy_name":${JSON.stringify(info.policyName)},"hook":${JSON.stringify(info.hook)}` +
      (info.message ? `,"message":${JSON.stringify(info.message)}` : '') +
      (info.tags.length > 0 ? `,"tags":${JSON.stringify(info.tags)}` : '');
    const full: HookInfo = { ...info, id, fixedJson };
    this.hooks[id] = full;
    return full;
  }

  unregister(id: number): void {
    this.hooks[id] = undefined;
  }

  get(id: number): HookInfo | undefined {
    return this.hooks[id];
  }
}

/** Tetragon's names for the action taken. */
export const ACTION_NAMES = ['KPROBE_ACTION_POST', 'KPROBE_ACTION_SIGKILL', 'KPROBE_ACTION_SIGNAL', 'KPROBE_ACTION_OVERRIDE'];

const ARG_KEYS: Record<HookArgType, string> = {
  int: 'int_arg', uint: 'uint_arg', long: 'long_arg', ulong: 'ulong_arg', size_t: 'size_arg',
};

/** Arguments as Tetragon prints them: [{"int_arg":3},{"size_arg":"4096"}]. lo/hi are u32 halves. */
export function hookArgJson(type: HookArgType, lo: number, hi: number): string {
  switch (type) {
    case 'int':
      return `{"int_arg":${lo | 0}}`;
    case 'uint':
      return `{"uint_arg":${lo >>> 0}}`;
    default: {
      // 64-bit values as strings when they do not fit a double exactly, as protobuf JSON does.
      const neg = type === 'long' && hi >= 0x80000000;
      const v = neg ? -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1) : hi * 4294967296 + lo;
      const text = Number.isSafeInteger(v) ? String(v) : (neg ? BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)) : (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString();
      return `{"${ARG_KEYS[type]}":"${text}"}`;
    }
  }
}
