// Where events go. The pipeline writes each event's JSON line once, as UTF-8, into a batch buffer
// and hands every sink the event with the line's place in that buffer; a sink buffers what it
// needs and writes on flush(). The pipeline flushes once per drain (and when the batch buffer is
// full), so writes are batched, never one syscall per event.
import type { PalisadeEvent } from '../pipeline/events.js';
import { compactLine, viewOfEvent } from './compact.js';

export interface SinkStats {
  name: string;
  written: number;
  dropped: number;
}

export interface Sink {
  readonly name: string;
  /**
   * One event. Its JSON line is `line[start, end)`, "\n" included. Those bytes are only valid
   * until this sink's next flush(): a sink that keeps them longer must copy them. A hook event reads
   * its arguments (argsText, record()) from the drained record, which the next drain overwrites:
   * a sink takes what it needs from them here.
   */
  write(ev: PalisadeEvent, line: Buffer, start: number, end: number): void;
  flush(): void;
  /** Events dropped since the last call (slow reader, full disk…): the pipeline reports them. */
  takeDropped(): number;
  stats(): SinkStats;
  close(): Promise<void>;
}

export type OutputFormat = 'json' | 'compact';

/** A line of text from an event and its JSON text (without "\n"). */
export type LineFormatter = (ev: PalisadeEvent, json: string) => string;

/**
 * How a sink renders events: 'json' writes the pipeline's bytes as they are (the fast path);
 * 'compact' and formatter functions make a string per event.
 */
export type SinkFormat = OutputFormat | LineFormatter;

/** The string formatter for a non-JSON format; null for 'json', which needs none. */
export function lineFormatter(format: SinkFormat): LineFormatter | null {
  if (format === 'json') return null;
  if (format === 'compact') return (ev) => compactLine(viewOfEvent(ev));
  return format;
}

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

/**
 * The lines a sink has taken since its last flush, as byte ranges of the pipeline's batch buffers
 * (valid until that flush). Consecutive lines sit back to back, so a batch is one range; only a new
 * buffer (the pipeline's grew) starts another.
 */
export class PendingBytes {
  lines = 0;
  events = 0;
  private src: Buffer | null = null;
  private start = 0;
  private end = 0;
  /** Earlier ranges of this batch: buffer, start, end. */
  private readonly earlier: [Buffer, number, number][] = [];

  add(ev: PalisadeEvent, line: Buffer, start: number, end: number): void {
    if (line !== this.src || start !== this.end) {
      if (this.src !== null) this.earlier.push([this.src, this.start, this.end]);
      this.src = line;
      this.start = start;
    }
    this.end = end;
    this.lines++;
    this.events += DropCounter.events(ev);
  }

  /** Calls `fn` with each range in order, then starts over. */
  take(fn: (buf: Buffer, start: number, end: number) => void): void {
    for (const [b, s, e] of this.earlier) fn(b, s, e);
    if (this.src !== null) fn(this.src, this.start, this.end);
    this.clear();
  }

  clear(): void {
    this.earlier.length = 0;
    this.src = null;
    this.start = this.end = 0;
    this.lines = 0;
    this.events = 0;
  }
}

/**
 * What every buffering sink shares: JSON lines kept as the pipeline's bytes, other formats as
 * strings, and the written/dropped counts. Subclasses say how to send them (flush) and close.
 */
export abstract class BufferedSink implements Sink {
  private readonly format: LineFormatter | null;
  /** JSON lines as the pipeline's bytes (format 'json'). */
  protected readonly bytes = new PendingBytes();
  /** Formatted lines, each ending in "\n" (other formats), and how many events they hold. */
  protected pending: string[] = [];
  protected pendingEvents = 0;
  protected written = 0;
  protected readonly drops = new DropCounter();

  constructor(readonly name: string, format: SinkFormat) {
    this.format = lineFormatter(format);
  }

  write(ev: PalisadeEvent, line: Buffer, start: number, end: number): void {
    if (this.format === null) {
      this.bytes.add(ev, line, start, end);
      return;
    }
    this.pending.push(this.format(ev, line.toString('utf8', start, end - 1)) + '\n');
    this.pendingEvents += DropCounter.events(ev);
  }

  /** Hands over the formatted lines and their event count, leaving none pending. */
  protected takePending(): { lines: string[]; events: number } {
    const out = { lines: this.pending, events: this.pendingEvents };
    this.pending = [];
    this.pendingEvents = 0;
    return out;
  }

  abstract flush(): void;
  abstract close(): Promise<void>;

  takeDropped(): number {
    return this.drops.take();
  }

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: this.drops.total };
  }
}
