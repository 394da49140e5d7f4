// Where events go. A sink takes each event with its JSON line, buffers, and writes on flush():
// the pipeline flushes once per drain, so writes are batched, never one syscall per event.
import type { PalisadeEvent } from '../pipeline/events.js';

export interface SinkStats {
  name: string;
  written: number;
  dropped: number;
}

export interface Sink {
  readonly name: string;
  write(ev: PalisadeEvent, json: string): void;
  flush(): void;
  /** Events dropped since the last call (slow reader, full disk…): the pipeline reports them. */
  takeDropped(): number;
  stats(): SinkStats;
  close(): Promise<void>;
}

export type OutputFormat = 'json' | 'compact';

/**
 * What a sink could not deliver, for stats and for the pipeline's events_lost reports. Loss reports
 * themselves are not counted: one that a stalled reader also misses would be reported again, once
 * a second, for as long as the reader stalls.
 */
export class DropCounter {
  total = 0;
  private unreported = 0;

  /** Counts the events (not loss reports) among lines a sink is about to write. */
  static events(ev: PalisadeEvent): number {
    return ev.type === 'events_lost' ? 0 : 1;
  }

  add(events: number): void {
    this.total += events;
    this.unreported += events;
  }

  take(): number {
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }
}
