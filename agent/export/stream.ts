// Events to a Node stream (stdout, a client socket). Writes are batched per flush; past a
// high-water mark of unsent bytes, events are dropped and counted rather than held in memory.
import type { Writable } from 'node:stream';
import type { PalisadeEvent } from '../pipeline/events.js';
import { DropCounter, type Sink, type SinkStats } from './sink.js';

export class StreamSink implements Sink {
  private pending = '';
  private count = 0;
  private events = 0;
  private written = 0;
  private readonly drops = new DropCounter();
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
    this.events += DropCounter.events(ev);
  }

  flush(): void {
    if (this.count === 0) return;
    const n = this.count;
    const events = this.events;
    const data = this.pending;
    this.pending = '';
    this.count = 0;
    this.events = 0;
    if (this.closed || this.out.destroyed || this.out.writableLength > this.highWaterBytes) {
      this.drops.add(events);
      return;
    }
    this.out.write(data);
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
