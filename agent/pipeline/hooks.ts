// The hook registry: what a pal_hook record's hook_id means (which policy, which hook, how to read
// its arguments).
import type { HookIds, HookRegistration } from '../../tracing/manager.js';
import { hookJsonParts, type HookJsonParts } from '../export/hook-json.js';
import { DATA_ARGS } from './hook-event.js';

export type HookEventType = HookRegistration['event'];

export interface HookInfo extends HookRegistration {
  id: number;
  /** The constant parts of its events' JSON, as bytes. */
  json: HookJsonParts;
  /** The arguments that point into the record's data[] (strings, buffers, sockets …): bounds to check. */
  dataArgs: number[];
}

/** Records of a removed hook may still sit in the ring: its id stays readable this long. */
const RETIRE_MS = 10_000;

export class HookRegistry implements HookIds {
  /** By id: ids are small and handed out in order. */
  private readonly hooks: (HookInfo | undefined)[] = [];

  register(info: HookRegistration): number {
    const id = this.hooks.length;
    this.hooks.push({ ...info, id, json: hookJsonParts(info), dataArgs: info.args.flatMap((a, i) => (DATA_ARGS.has(a) ? [i] : [])) });
    return id;
  }

  /** Ids are never reused, so a late record of a removed hook is still decoded, not misread. */
  unregister(id: number): void {
    setTimeout(() => (this.hooks[id] = undefined), RETIRE_MS).unref();
  }

  get(id: number): HookInfo | undefined {
    return this.hooks[id];
  }
}
