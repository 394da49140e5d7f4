// Events to a Node stream (stdout, a client socket). Writes are batched per flush; past a
// high-water mark of unsent bytes, events are dropped and counted rather than held in memory.
import type { Writable } from 'node:stream';
import type { PalisadeEvent } from '../pipeline/events.js';
import { DropCounter, PendingBytes, lineFormatter, type LineFormatter, type Sink, type SinkFormat, type SinkStats } from './sink.js';

export class StreamSink implements Sink {
  private readonly format: LineFormatter | null;
  /** JSON lines as the pipeline's bytes (format 'json'). */
  private readonly bytes = new PendingBytes();
  /** Formatted lines (other formats). */
  private pending = '';
  private count = 0;
  private events = 0;
  private written = 0;
  private readonly drops = new DropCounter();
  private closed = false;

  constructor(
    readonly name: string,
    private readonly out: Writable,
    format: SinkFormat,
    private readonly highWaterBytes = 64 << 20,
  ) {
    this.format = lineFormatter(format);
    out.on('error', () => {
      this.closed = true;
    });
  }

  write(ev: PalisadeEvent, line: Buffer, start: number, end: number): void {
    if (this.format === null) {
      this.bytes.add(ev, line, start, end);
      return;
    }
    this.pending += this.format(ev, line.toString('utf8', start, end - 1)) + '\n';
    this.count++;
    this.events += DropCounter.events(ev);
  }

  flush(): void {
    const b = this.bytes;
    const n = b.lines + this.count;
    if (n === 0) return;
    const events = b.events + this.events;
    const text = this.pending;
    this.pending = '';
    this.count = 0;
    this.events = 0;
    if (this.closed || this.out.destroyed || this.out.writableLength > this.highWaterBytes) {
      b.clear();
      this.drops.add(events);
      return;
    }
    // The stream keeps what it is given until it is sent: copies, as the pipeline reuses its buffer.
    b.take((buf, start, end) => this.out.write(Buffer.from(buf.subarray(start, end))));
    if (text !== '') this.out.write(text);
    this.written += n;
  }

  takeDropped(): number {
    return this.drops.take();
  }

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: this.drops.total };
  }

  async close(): Promise<void> {
    this.flush();
    if (this.out === process.stdout || this.out === process.stderr) return;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
