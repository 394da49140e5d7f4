// Capability sets as names. The names (index = capability number) are the policy schema's: one list.
import { CAPABILITIES as CAP_NAMES } from '../../tracing/policy/schema.js';

const jsonCache = new Map<string, string>();

/** Capability set (low and high 32 bits) as a JSON array of names; sets repeat a lot, so cached. */
export function capsJson(lo: number, hi: number): string {
  const key = `${lo}:${hi}`;
  let s = jsonCache.get(key);
  if (s === undefined) {
    s = JSON.stringify(capNames(lo, hi));
    if (jsonCache.size < 4096) jsonCache.set(key, s);
  }
  return s;
}

export function capNames(lo: number, hi: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < CAP_NAMES.length; i++) {
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (set) out.push(CAP_NAMES[i]!);
  }
  return out;
}

/** Parses a /proc/PID/status capability line value ("000001ffffffffff"). */
export function parseCapHex(hex: string): [lo: number, hi: number] {
  const v = hex.trim().padStart(16, '0');
  return [parseInt(v.slice(8), 16) >>> 0, parseInt(v.slice(0, 8), 16) >>> 0];
}
