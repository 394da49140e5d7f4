// Builds ring-buffer frames the way the kernel programs and the native drain lay them out.
import {
  EV_EXEC, EV_EXIT, EV_FORK, EV_HOOK, EXEC, EXIT, FORK, FRAME_HEADER, HDR, HOOK,
} from '../../agent/pipeline/layout.js';
import type { RecordSource } from '../../agent/pipeline/pipeline.js';

function frame(type: number, size: number, ktime: bigint, fill: (b: Buffer) => void): Buffer {
  const padded = (size + 7) & ~7;
  const b = Buffer.alloc(FRAME_HEADER + padded);
  b.writeUInt32LE(size, 0);
  const r = b.subarray(FRAME_HEADER);
  r.writeUInt16LE(type, HDR.type);
  r.writeUInt32LE(size, HDR.size);
  r.writeBigUInt64LE(ktime, HDR.ktime);
  fill(r);
  return b;
}

export interface ExecSpec {
  pid: number; ppid: number; ktime: bigint; start: bigint; parentStart: bigint;
  binary: string; args: string[]; cwd: string; cgroup: string; uid?: number; flags?: number;
}

export function execFrame(s: ExecSpec): Buffer {
  const bin = Buffer.from(s.binary);
  const args = Buffer.from(s.args.join('\0') + '\0');
  const cwd = Buffer.from(s.cwd);
  const cg = Buffer.from(s.cgroup);
  const size = EXEC.$size + bin.length + args.length + cwd.length + cg.length;
  return frame(EV_EXEC, size, s.ktime, (r) => {
    r.writeUInt32LE(s.pid, EXEC.pid);
    r.writeUInt32LE(s.pid, EXEC.tid);
    r.writeUInt32LE(s.ppid, EXEC.ppid);
    r.writeUInt32LE(s.uid ?? 0, EXEC.uid);
    r.writeUInt32LE(4294967295, EXEC.auid);
    r.writeUInt32LE(s.flags ?? 0, EXEC.flags);
    r.writeBigUInt64LE(s.start, EXEC.start_boottime);
    r.writeBigUInt64LE(s.parentStart, EXEC.parent_start_boottime);
    r.writeBigUInt64LE(4242n, EXEC.cgroup_id);
    r.writeBigUInt64LE(0x200000n, EXEC.cap_effective);
    for (let i = 0; i < 10; i++) r.writeUInt32LE(4026531830 + i, EXEC.ns + 4 * i);
    r.writeUInt16LE(bin.length, EXEC.binary_len);
    r.writeUInt16LE(args.length, EXEC.args_len);
    r.writeUInt16LE(cwd.length, EXEC.cwd_len);
    r.writeUInt16LE(cg.length, EXEC.cgroup_len);
    Buffer.concat([bin, args, cwd, cg]).copy(r, EXEC.data);
  });
}

export function forkFrame(pid: number, ppid: number, ktime: bigint, start: bigint, parentStart: bigint): Buffer {
  return frame(EV_FORK, FORK.$size, ktime, (r) => {
    r.writeUInt32LE(pid, FORK.pid);
    r.writeUInt32LE(pid, FORK.tid);
    r.writeUInt32LE(ppid, FORK.ppid);
    r.writeBigUInt64LE(start, FORK.start_boottime);
    r.writeBigUInt64LE(parentStart, FORK.parent_start_boottime);
  });
}

export function exitFrame(pid: number, ktime: bigint, start: bigint, code: number): Buffer {
  return frame(EV_EXIT, EXIT.$size, ktime, (r) => {
    r.writeUInt32LE(pid, EXIT.pid);
    r.writeUInt32LE(pid, EXIT.tid);
    r.writeBigUInt64LE(start, EXIT.start_boottime);
    r.writeUInt32LE(code, EXIT.exit_code);
  });
}

/** A hook record: numbers stay in their slots; Buffers go to data[] with (len << 32 | offset) slots. */
export function hookFrame(
  pid: number, ktime: bigint, start: bigint, hookId: number, args: Array<bigint | Buffer>,
  opts: { action?: number; flags?: number } = {},
): Buffer {
  const data = Buffer.concat(args.filter((a): a is Buffer => Buffer.isBuffer(a)));
  return frame(EV_HOOK, HOOK.$size + data.length, ktime, (r) => {
    r.writeUInt32LE(pid, HOOK.pid);
    r.writeUInt32LE(pid, HOOK.tid);
    r.writeBigUInt64LE(start, HOOK.start_boottime);
    r.writeUInt32LE(hookId, HOOK.hook_id);
    r.writeUInt16LE(opts.action ?? 0, HOOK.action);
    r.writeUInt8(args.length, HOOK.nargs);
    r.writeUInt32LE(opts.flags ?? 0, HOOK.flags);
    let pos = 0;
    args.forEach((a, i) => {
      if (Buffer.isBuffer(a)) {
        r.writeBigUInt64LE((BigInt(a.length) << 32n) | BigInt(pos), HOOK.args + 8 * i);
        a.copy(r, HOOK.data + pos);
        pos += a.length;
      } else {
        r.writeBigUInt64LE(BigInt.asUintN(64, a), HOOK.args + 8 * i);
      }
    });
  });
}

/** Hands out the given frames, as many whole frames as fit per drain, like the native drain. */
export class FrameSource implements RecordSource {
  private queue: Buffer[] = [];
  push(...frames: Buffer[]): void {
    this.queue.push(...frames);
  }
  drain(out: Buffer): number {
    let n = 0;
    while (this.queue.length > 0 && n + this.queue[0]!.length <= out.length) {
      n += this.queue.shift()!.copy(out, n);
    }
    return n;
  }
}
