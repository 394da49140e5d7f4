// Events to a Node stream (stdout, a client socket). Writes are batched per flush; past a
// high-water mark of unsent bytes, events are dropped and counted rather than held in memory.
import type { Writable } from 'node:stream';
import { BufferedSink, type SinkFormat } from './sink.js';

export class StreamSink extends BufferedSink {
  private closed = false;

  constructor(
    name: string,
    private readonly out: Writable,
    format: SinkFormat,
    private readonly highWaterBytes = 64 << 20,
  ) {
    super(name, format);
    out.on('error', () => {
      this.closed = true;
    });
  }

  flush(): void {
    const b = this.bytes;
    const n = b.lines + this.pending.length;
    if (n === 0) return;
    const events = b.events + this.pendingEvents;
    const { lines } = this.takePending();
    if (this.closed || this.out.destroyed || this.out.writableLength > this.highWaterBytes) {
      b.clear();
      this.drops.add(events);
      return;
    }
    // The stream keeps what it is given until it is sent: copies, as the pipeline reuses its buffer.
    b.take((buf, start, end) => this.out.write(Buffer.from(buf.subarray(start, end))));
    if (lines.length > 0) this.out.write(lines.join(''));
    this.written += n;
  }

  async close(): Promise<void> {
    this.flush();
    if (this.out === process.stdout || this.out === process.stderr) return;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
