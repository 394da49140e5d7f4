// endpoint_* requests of the local API (`palisade endpoint label|unlabel|list`), over the WorkloadStore.
import type { LabelsFileStatus, LabelSource, PendingCgroup, WorkloadDetail, WorkloadStore } from '../identity/store.js';

export type EndpointRequest =
  | { op: 'endpoint_label'; cgroup: string; labels: Record<string, string>; namespace?: string }
  | { op: 'endpoint_unlabel'; cgroup: string }
  | { op: 'endpoint_list' };

/** One workload as `palisade endpoint list -o json` prints it. */
export interface EndpointJson {
  cgroup: string;
  /** cgroup id (decimal string: 64-bit). */
  id: string;
  namespace: string;
  labels: Record<string, string>;
  /** The numeric identity the policy engine gave the workload, when it gave one. */
  identity?: number;
  ips: string[];
  processes: number;
  sources: LabelSource[];
}

export interface EndpointListJson {
  endpoints: EndpointJson[];
  /** Labelled cgroups that do not exist now. */
  pending: PendingCgroup[];
  labels_file: LabelsFileStatus;
}

export interface EndpointContext {
  store: WorkloadStore;
  /** The policy engine's identity of a workload (by cgroup id), when it has one. */
  identityOf?: (cgroupId: bigint) => number | undefined;
}

/** The answer to one endpoint_* request; errors (bad labels, no such cgroup) come back as {error}. */
export function handleEndpointRequest(ctx: EndpointContext, req: EndpointRequest): unknown {
  try {
    switch (req.op) {
      case 'endpoint_label': {
        if (typeof req.cgroup !== 'string' || typeof req.labels !== 'object' || req.labels === null) return { error: 'endpoint_label needs cgroup and labels' };
        const w = ctx.store.label(req.cgroup, req.labels, req.namespace);
        return { endpoint: endpointJson(ctx, w) };
      }
      case 'endpoint_unlabel': {
        if (typeof req.cgroup !== 'string') return { error: 'endpoint_unlabel needs cgroup' };
        const cgroup = ctx.store.resolve(req.cgroup);
        if (!ctx.store.unlabel(cgroup)) return { error: `${cgroup} has no labels set through the API` };
        const still = ctx.store.details().find((w) => w.cgroupPath === cgroup);
        return { unlabelled: cgroup, ...(still ? { endpoint: endpointJson(ctx, still) } : {}) };
      }
      case 'endpoint_list':
        return listJson(ctx);
      default:
        return { error: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}` };
    }
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function listJson(ctx: EndpointContext): EndpointListJson {
  return {
    endpoints: ctx.store.details().map((w) => endpointJson(ctx, w)),
    pending: [...ctx.store.pendingCgroups()],
    labels_file: ctx.store.labelsFileStatus(),
  };
}

function endpointJson(ctx: EndpointContext, w: WorkloadDetail): EndpointJson {
  const out: EndpointJson = {
    cgroup: w.cgroupPath, id: String(w.cgroupId), namespace: w.namespace, labels: { ...w.labels }, ips: [...w.ips],
    processes: w.processes, sources: w.sources,
  };
  const identity = ctx.identityOf?.(w.cgroupId);
  if (identity !== undefined) out.identity = identity;
  return out;
}
