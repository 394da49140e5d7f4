// Error formatting and did-you-mean suggestions for policy validation.
import type { PolicyError } from './types.js';

/** `web.yaml:14:9 spec.kprobes[0].call: required field is missing` */
export function formatPolicyError(e: PolicyError): string {
  const where = `${e.file}:${e.line}:${e.column}`;
  return e.path ? `${where} ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The closest candidate, if close enough to be a typo, else one the word (3 letters or more) begins:
 *  "DROP" means "DROPPED". Case differences count as no distance. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const allowed = Math.max(2, Math.floor(word.length / 4));
  if (bestD <= allowed) return best;
  return w.length >= 3 ? candidates.find((c) => c.toLowerCase().startsWith(w)) : undefined;
}

/** ` (did you mean "x"?)` or ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}

/** `unknown operator "Prefx" (did you mean "Prefix"?)`, or the full list when nothing is close. */
export function unknownValue(what: string, word: string, candidates: readonly string[]): string {
  const hint = didYouMean(word, candidates);
  return hint ? `unknown ${what} ${JSON.stringify(word)}${hint}` : `unknown ${what} ${JSON.stringify(word)}: expected one of ${candidates.join(', ')}`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
