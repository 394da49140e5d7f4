// Workload identities: one number per distinct (namespace, labels), shared by every workload that has
// them, counted by reference and released with the last one. Numbers are not handed out again while
// the process runs (until the 24-bit space wraps), so a stale map entry never names a new workload.
import { ID } from '../model.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, NAMESPACE_NAME_LABEL } from '../policy/types.js';

export interface WorkloadIdentity {
  id: number;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** What selectors match against: labels, the namespace, and the namespace's labels (policy/types.ts). */
  selectorLabels: Readonly<Record<string, string>>;
}

/** Labels of a namespace; kubernetes.io/metadata.name is added when missing. */
export type NamespaceLabels = (namespace: string) => Readonly<Record<string, string>>;

const LAST = ID.CIDR_SCOPE - 1;

export function identityKey(namespace: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  let k = namespace;
  for (const key of keys) k += `\0${key}=${labels[key]}`;
  return k;
}

export function selectorLabels(namespace: string, labels: Readonly<Record<string, string>>, nsLabels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...labels, [NAMESPACE_LABEL]: namespace };
  out[NAMESPACE_LABELS_PREFIX + NAMESPACE_NAME_LABEL] = namespace;
  for (const [k, v] of Object.entries(nsLabels)) out[NAMESPACE_LABELS_PREFIX + k] = v;
  return out;
}

export class WorkloadIdentities {
  private readonly byKey = new Map<string, { identity: WorkloadIdentity; refs: number }>();
  private readonly byId = new Map<number, WorkloadIdentity>();
  private next: number = ID.FIRST_WORKLOAD;

  constructor(private readonly namespaceLabels: NamespaceLabels = () => ({})) {}

  acquire(namespace: string, labels: Readonly<Record<string, string>>): number {
    const key = identityKey(namespace, labels);
    const e = this.byKey.get(key);
    if (e) {
      e.refs++;
      return e.identity.id;
    }
    const id = this.allocate();
    const identity: WorkloadIdentity = { id, namespace, labels: { ...labels }, selectorLabels: selectorLabels(namespace, labels, this.namespaceLabels(namespace)) };
    this.byKey.set(key, { identity, refs: 1 });
    this.byId.set(id, identity);
    return id;
  }

  release(id: number): void {
    const identity = this.byId.get(id);
    if (!identity) return;
    const key = identityKey(identity.namespace, identity.labels);
    const e = this.byKey.get(key)!;
    if (--e.refs > 0) return;
    this.byKey.delete(key);
    this.byId.delete(id);
  }

  get(id: number): WorkloadIdentity | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<WorkloadIdentity> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  private allocate(): number {
    for (let tries = 0; tries <= LAST - ID.FIRST_WORKLOAD; tries++) {
      const id = this.next;
      this.next = id >= LAST ? ID.FIRST_WORKLOAD : id + 1;
      if (!this.byId.has(id)) return id;
    }
    throw new Error('workload identities exhausted');
  }
}
