// Events to a Node stream (stdout, a client socket). Writes are batched per flush; past a
// high-water mark of unsent bytes, events are dropped and counted rather than held in memory.
import type { Writable } from 'node:stream';
import type { PalisadeEvent } from '../pipeline/events.js';
import type { Sink, SinkStats } from './sink.js';

export class StreamSink implements Sink {
  private pending = '';
  private count = 0;
  private written = 0;
  private dropped = 0;
  private droppedUnreported = 0;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly out: Writable,
    private readonly format: (ev: PalisadeEvent, json: string) => string,
    private readonly highWaterBytes = 64 << 20,
  ) {
    out.on('error', () => {
      this.closed = true;
    });
  }

  write(ev: PalisadeEvent, json: string): void {
    this.pending += this.format(ev, json) + '\n';
    this.count++;
  }

  flush(): void {
    if (this.count === 0) return;
    const n = this.count;
    const data = this.pending;
    this.pending = '';
    this.count = 0;
    if (this.closed || this.out.destroyed || this.out.writableLength > this.highWaterBytes) {
      this.dropped += n;
      this.droppedUnreported += n;
      return;
    }
    this.out.write(data);
    this.written += n;
  }

  takeDropped(): number {
    const n = this.droppedUnreported;
    this.droppedUnreported = 0;
    return n;
  }

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: this.dropped };
  }

  async close(): Promise<void> {
    this.flush();
    if (this.out === process.stdout || this.out === process.stderr) return;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
