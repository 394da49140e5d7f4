// Actions of a selector (matchActions, matchReturnActions): what Palisade does on a match.
// Only actions it carries out are accepted; Tetragon's others are named with the reason.
import { isScalar } from 'yaml';
import { unknownValue } from './errors.js';
import { LIMITS } from './limits.js';
import { Ctx, describe, join, limitedSeq, readObj, readStr, scalarText, type Item, type Obj } from './reader.js';
import { ACTION_FIELDS, RATE_LIMIT_SCOPES, SUPPORTED_ACTIONS, UNSUPPORTED_ACTIONS, type SupportedAction } from './schema.js';
import type { HookCtx } from './selectors.js';
import type { Action, RateLimitScope } from './types.js';

/** "5", "10s", "5m", "1h": seconds by default, as Tetragon parses it. */
function parseRateLimit(text: string): { ms: number } | { error: string } {
  const m = /^([0-9]+)([smhSMH]?)$/.exec(text);
  if (!m) return { error: `${JSON.stringify(text)} is not a duration: write seconds (30 or 30s), minutes (5m) or hours (1h)` };
  const seconds = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600 }[m[2]!.toLowerCase()] ?? 1);
  if (seconds < 1) return { error: 'must be at least 1 second' };
  if (seconds > LIMITS.rateLimitMaxSeconds) return { error: `${text} is ${seconds} seconds, the limit is ${LIMITS.rateLimitMaxSeconds}` };
  return { ms: seconds * 1000 };
}

function parseAction(ctx: Ctx, item: Item, hook: HookCtx | null, onReturn: boolean): Action | undefined {
  const o = readObj(ctx, item.node, item.path, ['action', ...Object.keys(ACTION_FIELDS)]);
  if (!o) return undefined;
  const f = o.value('action', true);
  const name = f && readStr(ctx, f.value, f.path, true);
  if (!f || name === undefined) return undefined;
  const unsupported = UNSUPPORTED_ACTIONS[name];
  if (unsupported) {
    ctx.error(f.value, f.path, `action ${name} is not supported by Palisade: ${unsupported}`);
    return undefined;
  }
  if (!(SUPPORTED_ACTIONS as readonly string[]).includes(name)) {
    ctx.error(f.value, f.path, unknownValue('action', name, [...SUPPORTED_ACTIONS, ...Object.keys(UNSUPPORTED_ACTIONS)]));
    return undefined;
  }
  const action = name as SupportedAction;
  let ok = true;
  for (const [key, owner] of Object.entries(ACTION_FIELDS)) {
    const field = o.get(key);
    if (!field || owner === action) continue;
    const hint = owner === 'unsupported' ? '' : ` (it belongs to ${owner})`;
    ctx.error(field.key, field.path, `does not apply to action ${action}${hint}`);
    ok = false;
  }
  switch (action) {
    case 'Post': {
      for (const key of ['kernelStackTrace', 'userStackTrace', 'imaHash']) {
        if (o.bool(key) === true) {
          ctx.error(o.get(key)!.key, join(o.path, key), `not supported by Palisade: ${key === 'imaHash' ? 'IMA file hashes are' : 'stack traces are'} not implemented`);
          ok = false;
        }
      }
      const rl = o.value('rateLimit');
      const scopeField = o.value('rateLimitScope');
      let scope: RateLimitScope = 'thread';
      if (scopeField) {
        const s = readStr(ctx, scopeField.value, scopeField.path, true);
        if (s !== undefined && !(RATE_LIMIT_SCOPES as readonly string[]).includes(s)) {
          ctx.error(scopeField.value, scopeField.path, unknownValue('rate limit scope', s, RATE_LIMIT_SCOPES));
          ok = false;
        } else if (s !== undefined) scope = s as RateLimitScope;
        else ok = false;
        if (!rl) {
          ctx.error(scopeField.key, scopeField.path, 'has no effect without rateLimit');
          ok = false;
        }
      }
      if (!rl) return ok ? { action } : undefined;
      if (!isScalar(rl.value) || typeof rl.value.value === 'object') {
        ctx.error(rl.value, rl.path, `expected a duration, got ${describe(rl.value)}`);
        return undefined;
      }
      const text = scalarText(rl.value);
      const r = parseRateLimit(text);
      if ('error' in r) {
        ctx.error(rl.value, rl.path, r.error);
        return undefined;
      }
      return ok ? { action, rateLimit: { text, ms: r.ms, scope } } : undefined;
    }
    case 'Signal': {
      const argSig = o.int('argSig', 1, 64, true);
      return ok && argSig !== undefined ? { action, argSig } : undefined;
    }
    case 'Override': {
      const argError = o.int('argError', -4095, -1, true);
      if (onReturn) {
        ctx.error(f.value, f.path, 'Override cannot run at return: the function has already returned; put it in matchActions');
        return undefined;
      }
      if (hook?.kind === 'tracepoint') {
        ctx.error(f.value, f.path, 'Override needs a kprobe or an lsmhook: a tracepoint cannot change the result of the call (Sigkill and Signal act when the call returns to user space)');
        return undefined;
      }
      if (hook?.kind === 'uprobe') {
        ctx.error(f.value, f.path, 'action Override is not supported by Palisade on uprobes: overriding user-space functions is not implemented');
        return undefined;
      }
      return ok && argError !== undefined ? { action, argError } : undefined;
    }
    default:
      return ok ? { action } : undefined;
  }
}

export function parseActions(ctx: Ctx, o: Obj, key: 'matchActions' | 'matchReturnActions', hook: HookCtx | null): Action[] {
  const items = limitedSeq(o, key, LIMITS.actionsPerSelector);
  const out: Action[] = [];
  const seen = new Set<string>();
  for (const it of items) {
    const a = parseAction(ctx, it, hook, key === 'matchReturnActions');
    if (!a) continue;
    const clash = a.action === 'Post' ? 'NoPost' : a.action === 'NoPost' ? 'Post' : undefined;
    if (clash && seen.has(clash)) ctx.error(it.node, join(it.path, 'action'), `${a.action} contradicts ${clash} in the same selector`);
    seen.add(a.action);
    out.push(a);
  }
  return out;
}
