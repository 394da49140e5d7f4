// Nothing is lost silently: a reader that falls behind loses events, and the loss is reported.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamSink } from '../../agent/export/stream.js';
import { WallClock } from '../../agent/pipeline/clock.js';
import type { PalisadeEvent } from '../../agent/pipeline/events.js';
import { Pipeline } from '../../agent/pipeline/pipeline.js';
import { ProcessCache } from '../../agent/process/cache.js';
import { FrameSource, execFrame } from '../helpers/records.js';

describe('StreamSink under backpressure', () => {
  it('drops past its high-water mark, counts the drop, and the pipeline reports it to the other sinks', () => {
    const slow = new PassThrough({ highWaterMark: 1 }); // nobody reads it
    const seen = new PassThrough();
    let seenText = '';
    seen.on('data', (d: Buffer) => (seenText += d.toString()));
    const json = (_ev: PalisadeEvent, j: string) => j;
    const slowSink = new StreamSink('client:1', slow, json, 2000);
    const goodSink = new StreamSink('client:2', seen, json);
    const source = new FrameSource();
    const p = new Pipeline({
      source, cache: new ProcessCache(), sinks: [slowSink, goodSink], clock: new WallClock(0n), nodeName: 'n', hostNs: [],
    });
    for (let i = 0; i < 20; i++) {
      source.push(execFrame({ pid: 100 + i, ppid: 1, ktime: BigInt(i + 1), start: BigInt(i + 1), parentStart: 0n, binary: '/bin/x', args: ['x', String(i)], cwd: '/', cgroup: '/' }));
      p.poll(); // one flush per event: the first write fills the slow reader's buffer
    }
    const dropped = slowSink.stats().dropped;
    expect(slowSink.stats().written + dropped).toBe(20);
    expect(dropped).toBeGreaterThan(0);

    p.checkLosses();
    const lost = seenText.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.events_lost);
    expect(lost).toEqual([expect.objectContaining({ events_lost: { count: dropped, reason: 'sink_backpressure', where: 'client:1' } })]);
    expect(p.counters.sinkDropped).toBe(dropped);
    p.checkLosses(); // reported once, not again
    expect(seenText.trim().split('\n').filter((l) => l.includes('events_lost'))).toHaveLength(1);
  });
});
