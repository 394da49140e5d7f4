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
