// What the tracing e2e suites (host and VM) share: policy documents and the hook events of one policy.
import type { Ev } from './agent.js';

/** A TracingPolicy named `name`; `spec` is the YAML under `spec:`, indented two spaces. */
export const tracingPolicy = (name: string, spec: string): string => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
${spec}`;

/** The bodies of the hook events (any hook kind) that policy `name` posted, in order. */
export const hookEvents = (evs: Ev[], name: string): Ev[] =>
  evs
    .map((e) => e.process_tracepoint ?? e.process_uprobe ?? e.process_kprobe ?? e.process_lsm)
    .filter((b: Ev | undefined) => b?.policy_name === name);
