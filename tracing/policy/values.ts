// Checks and parses the values of one argument filter, given its operator and the argument's type.
import { isIP } from 'node:net';
import { didYouMean } from './errors.js';
import { LIMITS } from './limits.js';
import { ADDRESS_FAMILIES, ARG_TYPE_INFO, CAPABILITIES, FILE_TYPES, IP_PROTOCOLS, TCP_STATES, type ArgTypeInfo } from './schema.js';
import type { ArgOperator, ArgType, Cidr, FilterValues } from './types.js';

/** A problem with value `index` of the list, or with the list as a whole (index -1). */
export interface ValueIssue {
  index: number;
  message: string;
}

export interface ValuesResult {
  parsed?: FilterValues;
  issues: ValueIssue[];
}

/** Names of lists the policy defines, for `list:NAME` values. */
export type ListNames = ReadonlySet<string>;

const q = (v: string): string => JSON.stringify(v);

/** A failed check, with its message. */
interface Err {
  err: string;
}
const bad = (err: string): Err => ({ err });
const isErr = (v: unknown): v is Err => typeof v === 'object' && v !== null && 'err' in v;

/** Go's strconv base-0 syntax, as Tetragon parses inline numbers: 0x hex, 0o/leading-0 octal, 0b binary. */
const AUTO_INT = /^[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[0-7]*|0[bB][01]+|[1-9][0-9]*)$/;
const DECIMAL_INT = /^[+-]?[0-9]+$/;

function toBigInt(text: string, base: 'auto' | 'decimal'): bigint | undefined {
  if (!(base === 'auto' ? AUTO_INT : DECIMAL_INT).test(text)) return undefined;
  const neg = text.startsWith('-');
  let body = text.replace(/^[+-]/, '');
  if (base === 'auto' && /^0[0-7]+$/.test(body)) body = `0o${body.slice(1)}`; // legacy octal
  if (base === 'decimal') body = body.replace(/^0+(?=\d)/, '');
  const n = BigInt(body);
  return neg ? -n : n;
}

function bounds(info: ArgTypeInfo): [bigint, bigint] {
  const bits = BigInt(info.bits ?? 64);
  return info.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

/** Parses a number for an argument of `type`, or returns the error text. */
function number(text: string, type: ArgType, info: ArgTypeInfo, base: 'auto' | 'decimal'): bigint | Err {
  const n = toBigInt(text.trim(), base);
  if (n === undefined) {
    if (base === 'decimal' && toBigInt(text.trim(), 'auto') !== undefined) return bad(`${q(text)} is not a decimal number (InMap values are decimal)`);
    return bad(`${q(text)} is not a whole number`);
  }
  const [lo, hi] = bounds(info);
  if (n < lo || n > hi) return bad(`${q(text)} is out of range for ${type} (${lo} to ${hi})`);
  return n;
}

/** `a:b` with a <= b, each checked by `one`. */
function range(text: string, one: (s: string) => bigint | Err): [bigint, bigint] | Err {
  const parts = text.split(':');
  if (parts.length !== 2) return bad(`${q(text)} is not a range: write min:max, e.g. 100:200`);
  const a = one(parts[0]!);
  if (isErr(a)) return a;
  const b = one(parts[1]!);
  if (isErr(b)) return b;
  if (a > b) return bad(`${q(text)} is a reversed range: write ${b}:${a}`);
  return [a, b];
}

/** A decimal number in [0, max] or a name from `names`. */
function named(text: string, names: Readonly<Record<string, number>>, max: number, what: string): bigint | Err {
  const n = names[text];
  if (n !== undefined) return BigInt(n);
  if (/^[0-9]+$/.test(text)) {
    const v = BigInt(text);
    return v <= BigInt(max) ? v : bad(`${q(text)} is out of range (0 to ${max})`);
  }
  return bad(`${q(text)} is not ${what}${didYouMean(text, Object.keys(names))}`);
}

function cidr(text: string): Cidr | Err {
  const [addr, prefix, extra] = text.split('/');
  const family = isIP(addr ?? '');
  if (extra !== undefined || (family !== 4 && family !== 6)) return bad(`${q(text)} is not an IP address or CIDR`);
  const max = family === 4 ? 32 : 128;
  if (prefix === undefined) return { family, address: addr!, prefixLen: max };
  if (!/^[0-9]+$/.test(prefix) || Number(prefix) > max) return bad(`${q(text)} has a bad prefix length (0 to ${max})`);
  return { family, address: addr!, prefixLen: Number(prefix) };
}

function capMask(text: string): bigint | Err {
  const n = toBigInt(text.trim(), 'auto');
  if (n !== undefined) return n >= 0n && n < 1n << 64n ? n : bad(`${q(text)} is out of range for a capability mask`);
  let mask = 0n;
  for (const raw of text.split(',')) {
    const name = raw.trim().toUpperCase();
    const bit = CAPABILITIES.indexOf(name);
    if (bit < 0) return bad(`${q(raw.trim())} is not a capability${didYouMean(name, CAPABILITIES)}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Checks `values` for `op` on an argument of `type`; the operator already applies to the type. */
export function parseFilterValues(op: ArgOperator, type: ArgType, values: string[], lists: ListNames): ValuesResult {
  const issues: ValueIssue[] = [];
  const info = ARG_TYPE_INFO[type] ?? { cls: 'opaque' };

  const count = (max: number): boolean => {
    if (values.length === 0) {
      issues.push({ index: -1, message: `${op} needs at least one value` });
      return false;
    }
    if (values.length > max) {
      issues.push({ index: -1, message: `${values.length} values, the limit is ${max}` });
      return false;
    }
    return true;
  };
  /** Runs `fn` on each value, collecting errors; undefined if any failed. */
  const each = <T>(fn: (v: string) => T | Err): T[] | undefined => {
    const out: T[] = [];
    values.forEach((v, index) => {
      const r = fn(v);
      if (isErr(r)) issues.push({ index, message: r.err });
      else out.push(r);
    });
    return out.length === values.length ? out : undefined;
  };
  const entries = (rs: Array<[bigint, bigint]>): boolean => {
    const n = rs.reduce((sum, [a, b]) => sum + (b - a + 1n), 0n);
    if (n > BigInt(LIMITS.mapEntries)) {
      issues.push({ index: -1, message: `the values expand to ${n} map entries, the limit is ${LIMITS.mapEntries}` });
      return false;
    }
    return true;
  };
  const done = (parsed: FilterValues | undefined): ValuesResult => (parsed && issues.length === 0 ? { parsed, issues } : { issues });

  switch (op) {
    case 'Equal':
    case 'NotEqual':
    case 'GT':
    case 'LT':
    case 'Mask': {
      if (info.cls === 'string') {
        if (!count(LIMITS.mapValues)) return done(undefined);
        const v = each((s) => (bytes(s) > LIMITS.stringValueBytes ? bad(`value is ${bytes(s)} bytes, the limit is ${LIMITS.stringValueBytes}`) : s));
        return done(v && { kind: 'strings', values: v });
      }
      if (!count(LIMITS.inlineValues)) return done(undefined);
      const v = info.cls === 'capmask' ? each(capMask) : each((s) => number(s, type, info, 'auto'));
      return done(v && { kind: 'ints', values: v });
    }
    case 'InRange':
    case 'NotInRange': {
      if (!count(LIMITS.inlineValues)) return done(undefined);
      const v = each((s) => range(s, (p) => number(p, type, info, 'auto')));
      return done(v && { kind: 'ranges', values: v, lists: [] });
    }
    case 'InMap':
    case 'NotInMap': {
      if (!count(LIMITS.mapValues)) return done(undefined);
      const rs: Array<[bigint, bigint]> = [];
      const refs: string[] = [];
      values.forEach((s, index) => {
        if (s.startsWith('list:')) {
          const name = s.slice(5);
          if (!lists.has(name)) issues.push({ index, message: `list ${q(name)} is not defined in spec.lists${didYouMean(name, [...lists])}` });
          else if (type !== 'syscall64') issues.push({ index, message: `list values are syscall names: the argument must be of type syscall64, not ${type}` });
          else refs.push(name);
          return;
        }
        const r = s.includes(':') ? range(s, (p) => number(p, type, info, 'decimal')) : number(s, type, info, 'decimal');
        if (isErr(r)) issues.push({ index, message: r.err });
        else rs.push(typeof r === 'bigint' ? [r, r] : r);
      });
      return done(entries(rs) ? { kind: 'ranges', values: rs, lists: refs } : undefined);
    }
    case 'Prefix':
    case 'NotPrefix':
    case 'SubString':
    case 'SubStringIgnCase':
    case 'Postfix':
    case 'NotPostfix': {
      const sub = op === 'SubString' || op === 'SubStringIgnCase';
      const post = op === 'Postfix' || op === 'NotPostfix';
      if (!count(sub ? LIMITS.inlineValues : LIMITS.mapValues)) return done(undefined);
      const limit = sub ? LIMITS.substringValueBytes : post ? LIMITS.postfixValueBytes : LIMITS.stringValueBytes;
      const v = each((s) =>
        s === '' ? bad(`an empty ${op} value matches everything; remove the filter instead`) : bytes(s) > limit ? bad(`value is ${bytes(s)} bytes, the limit is ${limit}`) : s,
      );
      return done(v && { kind: 'strings', values: v });
    }
    case 'FileType':
    case 'NotFileType': {
      if (!count(LIMITS.inlineValues)) return done(undefined);
      const v = each((s) => {
        const mode = FILE_TYPES[s];
        return mode === undefined ? bad(`${q(s)} is not a file type${didYouMean(s, Object.keys(FILE_TYPES))}`) : BigInt(mode);
      });
      return done(v && { kind: 'ints', values: v });
    }
    case 'SPortPriv':
    case 'NotSPortPriv':
    case 'DPortPriv':
    case 'NotDPortPriv':
      if (values.length > 0) issues.push({ index: -1, message: `${op} takes no values: it matches the privileged ports 0-1023` });
      return done({ kind: 'none' });
    case 'SPort':
    case 'NotSPort':
    case 'DPort':
    case 'NotDPort': {
      if (!count(LIMITS.mapValues)) return done(undefined);
      const port = (p: string): bigint | Err => (/^[0-9]+$/.test(p) && Number(p) <= 65535 ? BigInt(p) : bad(`${q(p)} is not a port number (0 to 65535)`));
      const v = each((s): [bigint, bigint] | Err => {
        if (s.includes(':')) return range(s, port);
        const p = port(s);
        return isErr(p) ? p : [p, p];
      });
      return done(v && entries(v) ? { kind: 'ranges', values: v, lists: [] } : undefined);
    }
    case 'Protocol':
    case 'Family':
    case 'State': {
      if (!count(LIMITS.mapValues)) return done(undefined);
      const [names, max, what] =
        op === 'Protocol'
          ? [IP_PROTOCOLS, 65535, 'a protocol number or IPPROTO_ name']
          : op === 'Family'
            ? [ADDRESS_FAMILIES, 65535, 'an address family number or AF_ name']
            : [TCP_STATES, 255, 'a TCP state number or TCP_ name'];
      const one = (p: string): bigint | Err => named(p, names, max, what);
      const v = each((s): [bigint, bigint] | Err => {
        if (s.includes(':')) return range(s, one);
        const n = one(s);
        return isErr(n) ? n : [n, n];
      });
      return done(v && entries(v) ? { kind: 'ranges', values: v, lists: [] } : undefined);
    }
    case 'SAddr':
    case 'NotSAddr':
    case 'DAddr':
    case 'NotDAddr': {
      if (!count(LIMITS.mapValues)) return done(undefined);
      const v = each(cidr);
      return done(v && { kind: 'cidrs', values: v });
    }
  }
}
