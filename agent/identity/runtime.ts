// Container runtimes name the cgroups they create after the container: docker, containerd, CRI-O
// and podman, under systemd (`docker-<id>.scope`) or cgroupfs (`/docker/<id>`), and kubelet puts
// the pod uid in the parent (`kubepods-burstable-pod<uid>.slice`, `/kubepods/burstable/pod<uid>`).
// Parsing the path is enough to give a workload its container id and pod uid, with no runtime socket.

/** 'unknown': a cgroupfs kubepods path (`…/pod<uid>/<id>`), which every CRI runtime uses alike. */
export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'unknown';

export interface ContainerCgroup {
  runtime: ContainerRuntime;
  /** The 64-hex container id. */
  containerId: string;
  /** The Kubernetes pod uid (with dashes), when the path is below a kubepods pod cgroup. */
  podUid?: string;
}

/** Labels a container cgroup gets from its path. */
export const LABEL_CONTAINER_ID = 'container-id';
export const LABEL_POD_UID = 'k8s:io.kubernetes.pod.uid';

const ID = '([0-9a-f]{64})';
/** Last path element of a container cgroup, by runtime. The conmon scopes of CRI-O are not containers. */
const SCOPES: ReadonlyArray<[RegExp, ContainerRuntime]> = [
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-${ID}\\.scope$`), 'podman'],
];
/** systemd driver: kubepods-besteffort-pod0f1e…_….slice (dashes of the uid become underscores). */
const POD_SLICE = /^kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\.slice$/;
/** cgroupfs driver: pod0f1e…-… */
const POD_DIR = /^pod([0-9a-f-]{36})$/;
const BARE_ID = new RegExp(`^${ID}$`);

/**
 * What runtime container a cgroup path (as in /proc/PID/cgroup, "/…") belongs to, or null.
 * Nested containers (docker in docker) name the innermost one. Podman runs the container's
 * processes in a `container` child of its scope; that child is the container too.
 */
export function parseContainerCgroup(path: string): ContainerCgroup | null {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.at(-1) === 'container' && parts.length > 1 && /^libpod-/.test(parts.at(-2)!)) parts.pop();
  const last = parts.at(-1);
  if (last === undefined) return null;
  let found: ContainerCgroup | null = null;
  for (const [re, runtime] of SCOPES) {
    const m = re.exec(last);
    if (m) {
      found = { runtime, containerId: m[1]! };
      break;
    }
  }
  const podUid = podUidOf(parts);
  if (!found) {
    // cgroupfs drivers: /docker/<id>, /kubepods/…/pod<uid>/<id>.
    const m = BARE_ID.exec(last);
    const parent = parts.at(-2);
    if (m && parent === 'docker') found = { runtime: 'docker', containerId: m[1]! };
    else if (m && podUid !== undefined) found = { runtime: 'unknown', containerId: m[1]! };
    else return null;
  }
  if (podUid !== undefined) found.podUid = podUid;
  return found;
}

function podUidOf(parts: readonly string[]): string | undefined {
  if (!parts.some((p) => p === 'kubepods' || p.startsWith('kubepods.slice') || p.startsWith('kubepods-'))) return undefined;
  for (let i = parts.length - 2; i >= 0; i--) {
    const s = POD_SLICE.exec(parts[i]!);
    if (s) return s[1]!.replaceAll('_', '-');
    const d = POD_DIR.exec(parts[i]!);
    if (d) return d[1]!;
  }
  return undefined;
}

/**
 * Whether a directory can hold container cgroups below it: systemd slices, kubepods and docker
 * (cgroupfs drivers), a user's systemd (rootless podman), podman scopes (their `container` child).
 * The discovery walk enters only these: a service's or a container's own cgroups are never read,
 * which keeps a walk over a busy host to a few dozen readdirs.
 */
export function mayHoldContainers(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (path === '/kubepods' || path.startsWith('/kubepods/') || path === '/docker' || path.startsWith('/docker/')) return true;
  return name.endsWith('.slice') || /^user@\d+\.service$/.test(name) || /^libpod-[0-9a-f]{64}\.scope$/.test(name);
}

/** The labels a container cgroup carries: container-id, and the pod uid where the path has it. */
export function containerLabels(c: ContainerCgroup): Record<string, string> {
  const out: Record<string, string> = { [LABEL_CONTAINER_ID]: c.containerId };
  if (c.podUid !== undefined) out[LABEL_POD_UID] = c.podUid;
  return out;
}
