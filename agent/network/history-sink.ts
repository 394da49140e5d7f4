// Keeps the exported network_flow lines in the flow history `palisade observe` reads (a copy: the
// pipeline's line buffer is reused after flush).
import type { FlowHistory } from '../../network/flows/history.js';
import type { PalisadeEvent } from '../pipeline/events.js';
import type { Sink, SinkStats } from '../export/sink.js';

export class FlowHistorySink implements Sink {
  readonly name = 'flow-history';
  private written = 0;

  constructor(private readonly history: FlowHistory) {}

  write(ev: PalisadeEvent, buf: Buffer, start: number, end: number): void {
    if (ev.type !== 'network_flow') return;
    this.history.push(ev.flow, buf.toString('utf8', start, end - 1), Date.parse(ev.time));
    this.written++;
  }

  flush(): void {}

  /** The ring overwrites its oldest flows by design: that is history, not loss. */
  takeDropped(): number {
    return 0;
  }

  async close(): Promise<void> {}

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: 0 };
  }
}
