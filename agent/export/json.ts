// One event as one JSON line, Tetragon's shape: {"<type>":{...},"node_name":"…","time":"…"}.
// Process blocks are cached JSON text on the cache entries, so an event costs a few concatenations.
import type { PalisadeEvent } from '../pipeline/events.js';
import type { Process } from '../process/process.js';

export interface JsonContext {
  nodeName: string;
  hostNs: ArrayLike<number>;
}

function ancestorsJson(list: Process[]): string {
  if (list.length === 0) return '';
  let s = ',"ancestors":[';
  for (let i = 0; i < list.length; i++) s += (i > 0 ? ',' : '') + list[i]!.slimJson();
  return s + ']';
}

export function eventJson(ev: PalisadeEvent, ctx: JsonContext): string {
  const tail = `,"node_name":${JSON.stringify(ctx.nodeName)},"time":"${ev.time}"}`;
  switch (ev.type) {
    case 'process_exec':
      return (
        `{"process_exec":{"process":${ev.process.json(ctx.hostNs)}` +
        (ev.parent ? `,"parent":${ev.parent.json(ctx.hostNs)}` : '') +
        ancestorsJson(ev.ancestors) +
        '}' + tail
      );
    case 'process_exit':
      return (
        `{"process_exit":{"process":${ev.process.json(ctx.hostNs)}` +
        (ev.parent ? `,"parent":${ev.parent.json(ctx.hostNs)}` : '') +
        ancestorsJson(ev.ancestors) +
        `,"status":${ev.status}` + (ev.signal ? `,"signal":"${ev.signal}"` : '') +
        '}' + tail
      );
    case 'process_tracepoint':
    case 'process_kprobe':
    case 'process_uprobe':
    case 'process_lsm':
      return (
        `{"${ev.type}":{"process":${ev.process.json(ctx.hostNs)}` +
        (ev.parent ? `,"parent":${ev.parent.json(ctx.hostNs)}` : '') +
        `,${ev.detailJson}}` + tail
      );
    case 'events_lost':
      return (
        `{"events_lost":{"count":${ev.count},"reason":${JSON.stringify(ev.reason)},` +
        `"where":${JSON.stringify(ev.where)}}` + tail
      );
  }
}
