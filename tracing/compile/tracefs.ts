// Tracepoint record layouts from tracefs: /sys/kernel/tracing/events/<subsystem>/<event>/format.
// Tetragon numbers a tracepoint's arguments by the fields of this file, common_* fields included.
import { existsSync, readFileSync } from 'node:fs';

export interface TracepointField {
  /** The C declaration as the format file gives it, e.g. "const char * filename". */
  decl: string;
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  isPointer: boolean;
  /** __data_loc: a u32 (len << 16 | offset) to bytes inside the record. */
  isDataLoc: boolean;
}

export const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

const FIELD = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d);/;

export function parseFormat(text: string): TracepointField[] {
  const out: TracepointField[] = [];
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const decl = m[1]!.trim();
    const name = /([A-Za-z_]\w*)\s*(\[[^\]]*\])?$/.exec(decl)?.[1] ?? decl;
    out.push({
      decl, name, offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1',
      isPointer: decl.includes('*'), isDataLoc: decl.startsWith('__data_loc'),
    });
  }
  return out;
}

/** The fields of a tracepoint, or a message saying why there are none. */
export function readTracepointFormat(subsystem: string, event: string): TracepointField[] | string {
  const root = TRACEFS_ROOTS.find((r) => existsSync(`${r}/events`));
  if (!root) return 'tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)';
  const file = `${root}/events/${subsystem}/${event}/format`;
  if (!existsSync(file)) {
    return existsSync(`${root}/events/${subsystem}`)
      ? `the kernel has no tracepoint ${subsystem}/${event} (no ${file})`
      : `the kernel has no tracepoint subsystem "${subsystem}" (no ${root}/events/${subsystem})`;
  }
  return parseFormat(readFileSync(file, 'utf8'));
}
