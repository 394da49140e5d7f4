// Kernel timestamps (CLOCK_BOOTTIME ns) to RFC 3339 wall time with nanoseconds.
// The formatted second is cached: events arrive in bursts within the same second.

export class WallClock {
  private lastSec = -1;
  private lastPrefix = '';
  private readonly offSec: number;
  private readonly offNsec: number;

  /** offsetNs = CLOCK_REALTIME - CLOCK_BOOTTIME, sampled together. */
  constructor(offsetNs: bigint) {
    this.offSec = Number(offsetNs / 1_000_000_000n);
    this.offNsec = Number(offsetNs % 1_000_000_000n);
  }

  /** A boot-time u64 given as its two u32 halves, as it sits in a record. */
  formatHiLo(hi: number, lo: number): string {
    // hi * 2^32 = hi * 4e9 + hi * 294967296: keeps every step exact for ~4 years of uptime.
    const r = hi * 294967296 + lo;
    const rs = Math.floor(r / 1e9);
    return this.format(hi * 4 + rs, r - rs * 1e9);
  }

  /** Boot-time ns as a float (procfs start times, tick resolution). */
  formatNs(ns: number): string {
    const s = Math.floor(ns / 1e9);
    return this.format(s, Math.round(ns - s * 1e9));
  }

  private format(bootSec: number, bootNsec: number): string {
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
    }
    return this.lastPrefix + String(1e9 + nsec).slice(1) + 'Z';
  }
}

/** The current wall time in the same format, for events the agent makes itself. */
export function nowRfc3339(): string {
  const ms = Date.now();
  return new Date(ms).toISOString().slice(0, 20) + String(1e9 + (ms % 1000) * 1e6).slice(1) + 'Z';
}
