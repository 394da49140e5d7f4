// Kernel timestamps (CLOCK_BOOTTIME ns) to RFC 3339 wall time with nanoseconds.
// The formatted second is cached: events arrive in bursts within the same second.

/** "000" … "999": nanoseconds as three table lookups, not a number-to-string conversion. */
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(1000 + i).slice(1));

export class WallClock {
  private lastSec = -1;
  private lastPrefix = '';
  /** lastPrefix as bytes ("YYYY-MM-DDTHH:MM:SS."): a new Buffer each second. */
  private prefixBytes = Buffer.alloc(20);
  /** The last time formatted, as text and as its nanoseconds: see prefixOf(). */
  private lastText = '';
  private nsec = 0;
  private readonly offSec: number;
  private readonly offNsec: number;

  /** offsetNs = CLOCK_REALTIME - CLOCK_BOOTTIME, sampled together. */
  constructor(offsetNs: bigint) {
    this.offSec = Number(offsetNs / 1_000_000_000n);
    this.offNsec = Number(offsetNs % 1_000_000_000n);
  }

  /** A boot-time u64 given as its two u32 halves, as it sits in a record. */
  formatHiLo(hi: number, lo: number): string {
    this.stamp(hi, lo);
    return this.text();
  }

  /**
   * Takes a boot-time u64 (u32 halves) as the current time without making its text: secondBytes
   * and lastNsec then hold it, for writers that put times out as bytes.
   */
  stamp(hi: number, lo: number): void {
    // hi * 2^32 = hi * 4e9 + hi * 294967296: keeps every step exact for ~4 years of uptime.
    const r = hi * 294967296 + lo;
    const rs = Math.floor(r / 1e9);
    this.settle(hi * 4 + rs, r - rs * 1e9);
  }

  /** Boot-time ns as a float (procfs start times, tick resolution). */
  formatNs(ns: number): string {
    const s = Math.floor(ns / 1e9);
    this.settle(s, Math.round(ns - s * 1e9));
    return this.text();
  }

  private settle(bootSec: number, bootNsec: number): void {
    let nsec = bootNsec + this.offNsec;
    let sec = bootSec + this.offSec;
    if (nsec >= 1e9) {
      nsec -= 1e9;
      sec += 1;
    } else if (nsec < 0) {
      nsec += 1e9;
      sec -= 1;
    }
    if (sec !== this.lastSec) {
      this.lastSec = sec;
      this.lastPrefix = new Date(sec * 1000).toISOString().slice(0, 20); // "YYYY-MM-DDTHH:MM:SS."
      this.prefixBytes = Buffer.from(this.lastPrefix, 'latin1');
    }
    this.nsec = nsec;
    this.lastText = ''; // until text() makes it
  }

  /** The settled time as text; prefixOf() recognises it. */
  private text(): string {
    const nsec = this.nsec;
    const ms = Math.floor(nsec / 1e6);
    const rest = nsec - ms * 1e6;
    const us = Math.floor(rest / 1e3);
    const text = this.lastPrefix + DIGITS3[ms] + DIGITS3[us] + DIGITS3[rest - us * 1e3] + 'Z';
    this.lastText = text;
    return text;
  }

  /** The second of the last time settled, as bytes ("YYYY-MM-DDTHH:MM:SS."): one Buffer per second. */
  get secondBytes(): Buffer {
    return this.prefixBytes;
  }

  /**
   * For the time this clock formatted last (the pipeline's case: the JSON writer asks right after),
   * its second as bytes ("YYYY-MM-DDTHH:MM:SS.", one Buffer per second); lastNsec has the rest.
   * For any other text, null. Lets the writer put the time out without encoding the string.
   */
  prefixOf(text: string): Buffer | null {
    return text === this.lastText ? this.prefixBytes : null;
  }

  /** Nanoseconds of the time settled last (formatted or stamped). */
  get lastNsec(): number {
    return this.nsec;
  }
}

/** The current wall time in the same format, for events the agent makes itself. */
export function nowRfc3339(): string {
  const ms = Date.now();
  return new Date(ms).toISOString().slice(0, 20) + String(1e9 + (ms % 1000) * 1e6).slice(1) + 'Z';
}
