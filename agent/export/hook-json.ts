// The body of a hook event (process_tracepoint, process_kprobe …) after its process and parent
// blocks. Apart from the serialiser so that hook events can grow fields without touching it.
import type { ProcessHookEvent } from '../pipeline/events.js';

/** The members after `"parent":{…},`: `"subsys":…,"args":[…],"action":"…",…`. */
export function hookEventJson(ev: ProcessHookEvent): string {
  return ev.detailJson;
}
