import { describe, expect, it } from 'vitest';
import { capNames, parseCapHex } from '../../agent/process/capabilities.js';
import { compactLine, viewOfJson } from '../../agent/export/compact.js';
import { decodeWaitStatus } from '../../agent/pipeline/events.js';
import { writeHookInt } from '../../agent/export/hook-json.js';
import { LineBuffer } from '../../agent/export/line-buffer.js';
import type { ArgDecode } from '../../tracing/compile/compile.js';
import { parseStat } from '../../agent/process/procfs.js';
import { matches } from '../../agent/cli/events.js';

describe('small formats', () => {
  it('splits wait statuses into status and signal', () => {
    expect(decodeWaitStatus(3 << 8)).toEqual({ status: 3, signal: '' });
    expect(decodeWaitStatus(9)).toEqual({ status: 0, signal: 'SIGKILL' });
    expect(decodeWaitStatus(15 | 0x80)).toEqual({ status: 0, signal: 'SIGTERM' }); // core dump bit
  });

  it('names capabilities from /proc hex', () => {
    const [lo, hi] = parseCapHex('000001ffffffffff');
    const names = capNames(lo, hi);
    expect(names).toHaveLength(41);
    expect(names[0]).toBe('CAP_CHOWN');
    expect(names.at(-1)).toBe('CAP_CHECKPOINT_RESTORE');
    expect(capNames(...parseCapHex('0000000000200000'))).toEqual(['CAP_SYS_ADMIN']);
  });

  it('parses /proc/PID/stat with spaces and parentheses in comm', () => {
    const s = parseStat('42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 0 0');
    expect(s).toEqual({ comm: 'a) b (c)', ppid: 7, startTicks: 123456 });
  });

  it('prints hook arguments as Tetragon does, 64-bit values exactly', () => {
    const hookIntJson = (type: ArgDecode, lo: number, hi: number): string => {
      const out = new LineBuffer(4);
      writeHookInt(out, type, lo, hi);
      return out.buf.toString('utf8', 0, out.pos);
    };
    expect(hookIntJson('int', 0xffffffff, 0)).toBe('{"int_arg":-1}');
    expect(hookIntJson('uint', 0xffffffff, 0)).toBe('{"uint_arg":4294967295}');
    expect(hookIntJson('size_t', 0xffffffff, 0xffffffff)).toBe('{"size_arg":"18446744073709551615"}');
    expect(hookIntJson('long', 0xfffffffe, 0xffffffff)).toBe('{"long_arg":"-2"}');
    expect(hookIntJson('ulong', 5, 1)).toBe('{"ulong_arg":"4294967301"}');
    expect(hookIntJson('ulong', 0xffffffff, 0)).toBe('{"ulong_arg":"4294967295"}');
    expect(hookIntJson('int', 0x80000000, 0)).toBe('{"int_arg":-2147483648}');
    expect(hookIntJson('long', 0, 0x1fffff)).toBe('{"long_arg":"9007194959773696"}');
    expect(hookIntJson('uint', 0, 0)).toBe('{"uint_arg":0}');
  });

  it('writes safe integers as decimal bytes', () => {
    const out = new LineBuffer(8); // grows on the way
    const values = [0, 7, 9, 10, 99, 100, 101, 999999, 2147483647, 2147483648, 4294967295, 4294967296, 123456789012345, Number.MAX_SAFE_INTEGER, -1, -10, -2147483648, -Number.MAX_SAFE_INTEGER];
    for (const v of values) {
      out.int(v);
      out.byte(44);
    }
    expect(out.buf.toString('utf8', 0, out.pos)).toBe(values.map((v) => `${v},`).join(''));
  });

  it('prints compact lines for exec, exit and loss', () => {
    const p = { pid: 7, binary: '/usr/bin/true', arguments: 'a b' };
    expect(compactLine(viewOfJson({ process_exec: { process: p } }))).toBe('🚀 process [7] /usr/bin/true a b');
    expect(compactLine(viewOfJson({ process_exit: { process: p, status: 0, signal: 'SIGKILL' } }))).toBe('💥 exit    [7] /usr/bin/true a b SIGKILL');
    expect(compactLine(viewOfJson({ process_exit: { process: p, status: 3 } }))).toBe('💥 exit    [7] /usr/bin/true a b 3');
    expect(compactLine(viewOfJson({ events_lost: { count: 4, reason: 'ring_buffer_full', where: 'kernel' } }))).toContain('lost    4 events');
  });

  it('filters events by type, binary (full or base name) and pid', () => {
    const ev = { process_exec: { process: { pid: 7, binary: '/usr/bin/true' } }, time: 't' };
    expect(matches(ev, { types: new Set(['process_exit']) })).toBe(false);
    expect(matches(ev, { binary: 'true' })).toBe(true);
    expect(matches(ev, { binary: '/usr/bin/true', pid: 7 })).toBe(true);
    expect(matches(ev, { binary: 'rue' })).toBe(false);
    expect(matches(ev, { pid: 8 })).toBe(false);
  });
});
