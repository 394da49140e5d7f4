// Workload labels and namespaces, as users write them in the labels file and on the command line.
// Keys follow Kubernetes (an optional "prefix/" and a name) and may carry a source like Cilium's
// "k8s:"; "reserved:" is ours (reserved:host, reserved:world in flows) and cannot be set.

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/:-]{0,251}[A-Za-z0-9])?$/;
/** Kubernetes values, with ':' '/' '@' '+' allowed and up to 256 characters (a container id is 64). */
const VALUE = /^[A-Za-z0-9._:/@+-]{0,256}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const DEFAULT_NAMESPACE = 'default';

/** Why a label key cannot be used, or null. */
export function labelKeyProblem(key: string): string | null {
  if (key.startsWith('reserved:')) return `${JSON.stringify(key)}: the "reserved:" prefix is for identities Palisade assigns (host, world)`;
  if (!KEY.test(key)) return `${JSON.stringify(key)} is not a valid label key: use letters, digits, '.', '_', '-', '/' and ':', starting and ending with a letter or digit, at most 253 characters`;
  return null;
}

/** Why a label value cannot be used, or null. */
export function labelValueProblem(value: string): string | null {
  return VALUE.test(value) ? null : `${JSON.stringify(value)} is not a valid label value: use letters, digits and '.', '_', '-', ':', '/', '@', '+', at most 256 characters`;
}

export function namespaceProblem(ns: string): string | null {
  return NAMESPACE.test(ns) ? null : `${JSON.stringify(ns)} is not a valid namespace: lower-case letters, digits and '-', at most 63 characters`;
}

/** `["app=web", "tier=front"]` → labels; throws with the first bad argument named. */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`${JSON.stringify(a)}: expected key=value`);
    const key = a.slice(0, eq);
    const value = a.slice(eq + 1);
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) throw new Error(problem);
    out[key] = value;
  }
  return out;
}

/** "k=v" strings sorted by key: the form flows carry (FlowEndpoint.labels). */
export function labelStrings(labels: Readonly<Record<string, string>>): string[] {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`);
}
