// cgroup v2 directories as workloads see them: paths as /proc/PID/cgroup writes them ("/a/b"),
// ids as bpf_get_current_cgroup_id returns them (the directory's inode number: kernfs node id).
import { readFileSync, readdirSync, statSync } from 'node:fs';

/**
 * A cgroup named by a user (a labels file, `palisade endpoint label`) as the canonical path below
 * the cgroup2 mount: "/system.slice/web.service". Accepts that form, the same without the leading
 * slash, and the full filesystem path below `root`. null for paths that leave the tree ("..").
 */
export function normalizeCgroupPath(input: string, root: string): string | null {
  let p = input.trim();
  const r = root.replace(/\/+$/, '');
  if (p === r) p = '/';
  else if (p.startsWith(r + '/')) p = p.slice(r.length);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return null;
  return '/' + parts.join('/');
}

/** The directory of a canonical cgroup path. */
export const cgroupDir = (root: string, path: string): string => (path === '/' ? root : root.replace(/\/+$/, '') + path);

/** The cgroup id of a directory (its inode number), or null when it does not exist. */
export function cgroupIdOf(dir: string): bigint | null {
  try {
    const st = statSync(dir, { bigint: true });
    return st.isDirectory() ? st.ino : null;
  } catch {
    return null;
  }
}

/** The pids listed in a cgroup's cgroup.procs (its own processes, not its children's). */
export function readCgroupProcs(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(dir + '/cgroup.procs', 'latin1');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(Number(line));
  return out;
}

/**
 * One process of the cgroup, or of its nearest descendant that has one (a pod cgroup holds its
 * containers' cgroups, podman's scope its `container` child): whose network namespace to read.
 */
export function findProcess(dir: string, maxDepth = 4): number | undefined {
  let level = [dir];
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const d of level) {
      const procs = readCgroupProcs(d);
      if (procs.length > 0) return procs[0];
      next.push(...subdirs(d));
    }
    level = next;
  }
  return undefined;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${dir}/${e.name}`);
  } catch {
    return [];
  }
}

/**
 * Every cgroup path below root (root excluded) that `want` accepts, depth first. Directories
 * `descend` rejects are not entered: the walk costs one readdir per visited directory.
 */
export function walkCgroups(root: string, want: (path: string) => boolean, descend: (path: string) => boolean = () => true, maxDepth = 16): string[] {
  const out: string[] = [];
  const base = root.replace(/\/+$/, '');
  const visit = (path: string, depth: number): void => {
    for (const d of subdirs(base + path)) {
      const p = d.slice(base.length);
      if (want(p)) out.push(p);
      if (depth < maxDepth && descend(p)) visit(p, depth + 1);
    }
  };
  visit('', 1);
  return out;
}
