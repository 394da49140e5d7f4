// `--since 5m` / `--since 2026-11-23T01:00:00Z`: the start of a flow query as epoch milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** "1h30m", "90s", "500ms", "2d" → milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  if (!DURATION.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/**
 * A duration before `now`, or an RFC 3339 time ("2026-11-23T01:00:00Z", "2026-11-23T01:00:00.5+01:00";
 * without a zone it is UTC, as event times are). Throws with what was expected.
 */
export function parseSince(text: string, now: number = Date.now()): number {
  const t = text.trim();
  const d = parseDuration(t);
  if (d !== null) return now - d;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(t);
  if (m) {
    const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${m[3] ?? 'Z'}`);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new Error(`expected a duration (30s, 5m, 1h30m, 2d) or a time (2026-11-23T01:00:00Z), got ${JSON.stringify(text)}`);
}
