// Workloads: cgroups with a namespace, labels and addresses. Labels come from the labels file,
// the local API (`palisade endpoint label`) and container cgroup names; addresses from the network
// namespace the cgroup's processes run in. refresh() re-reads what can change (cheap: a readdir per
// cgroup directory, a few small /proc reads per workload) and tells listeners when anything did.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Workload } from '../../network/model.js';
import { formatPolicyError } from '../../tracing/policy/errors.js';
import { NS_NAMES } from '../pipeline/layout.js';
import { hostNamespaces } from '../process/procfs.js';
import { readNetnsAddresses } from './addresses.js';
import { cgroupDir, cgroupIdOf, findProcess, normalizeCgroupPath, readCgroupProcs, walkCgroups } from './cgroups.js';
import { DEFAULT_NAMESPACE, labelKeyProblem, labelValueProblem, namespaceProblem } from './labels.js';
import { DEFAULT_WORKLOADS_FILE, parseWorkloadsFile, type LabelEntry } from './labels-file.js';
import { containerLabels, mayHoldContainers, parseContainerCgroup } from './runtime.js';

export type LabelSource = 'file' | 'api' | 'container';

/** A workload with what `palisade endpoint list` shows beyond the model. */
export interface WorkloadDetail extends Workload {
  /** Processes in the cgroup itself (children's cgroups are workloads of their own). */
  processes: number;
  sources: LabelSource[];
}

/** A labelled cgroup that does not exist (yet): labels wait for it. */
export interface PendingCgroup {
  cgroupPath: string;
  sources: LabelSource[];
}

export interface LabelsFileStatus {
  file: string | null;
  /** false when the file is absent, unreadable or was never valid. */
  loaded: boolean;
  entries: number;
  /** The last read's errors (the entries of the last good read stay in force). */
  errors: string[];
}

export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WorkloadStoreOptions {
  /** The cgroup2 mount (probeFeatures().cgroup2Path). */
  cgroupRoot: string;
  /** The labels file; null for none. Default /etc/palisade/workloads.yaml (absent: no labels from it). */
  labelsFile?: string | null;
  /** How often start() refreshes; 0 = never (call refresh()). Default 2000. */
  refreshIntervalMs?: number;
  /** Find docker/containerd/CRI-O/podman cgroups by name. Default true. */
  discoverContainers?: boolean;
  /** Inode of the host's network namespace: workloads in it get no addresses of their own. */
  hostNetns?: number;
  log?: StoreLog;
}

interface ApiLabels {
  namespace?: string;
  labels: Record<string, string>;
}

const NET = NS_NAMES.indexOf('net');

export class WorkloadStore {
  private readonly root: string;
  private readonly file: string | null;
  private readonly hostNetns: number;
  private readonly fileEntries = new Map<string, LabelEntry>();
  private fileStamp = '';
  private fileErrors: string[] = [];
  private fileLoaded = false;
  private readonly api = new Map<string, ApiLabels>();
  private containers = new Set<string>();
  private current = new Map<string, WorkloadDetail>();
  private byId = new Map<bigint, WorkloadDetail>();
  private pending: PendingCgroup[] = [];
  private readonly listeners = new Set<(ws: readonly Workload[]) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: WorkloadStoreOptions) {
    this.root = opts.cgroupRoot.replace(/\/+$/, '') || '/';
    this.file = opts.labelsFile === undefined ? DEFAULT_WORKLOADS_FILE : opts.labelsFile;
    this.hostNetns = opts.hostNetns ?? hostNamespaces()[NET] ?? 0;
  }

  /** First refresh now, then on the timer. */
  start(): void {
    this.refresh();
    const every = this.opts.refreshIntervalMs ?? 2000;
    if (every > 0 && this.timer === null) {
      this.timer = setInterval(() => {
        try {
          this.refresh();
        } catch (err) {
          this.opts.log?.warn({ err }, 'workload refresh failed');
        }
      }, every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Called with every workload after each change (labels, ids, addresses, workloads coming or going). */
  onChange(listener: (workloads: readonly Workload[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): Workload[] {
    return [...this.current.values()].map(toWorkload);
  }

  details(): WorkloadDetail[] {
    return [...this.current.values()];
  }

  pendingCgroups(): readonly PendingCgroup[] {
    return this.pending;
  }

  /** The workload's addresses, without copying the workload (asked per network record). */
  ipsOf(cgroupId: bigint): readonly string[] {
    return this.byId.get(cgroupId)?.ips ?? [];
  }

  get(cgroupId: bigint): Workload | undefined {
    const w = this.byId.get(cgroupId);
    return w && toWorkload(w);
  }

  labelsFileStatus(): LabelsFileStatus {
    return { file: this.file, loaded: this.fileLoaded, entries: this.fileEntries.size, errors: [...this.fileErrors] };
  }

  /** The canonical path of a cgroup a user named, or an Error's message. */
  resolve(cgroup: string): string {
    const p = normalizeCgroupPath(cgroup, this.root);
    if (p === null) throw new Error(`${JSON.stringify(cgroup)} leaves the cgroup tree ("..")`);
    return p;
  }

  /**
   * Sets labels on a cgroup from the API: merged over what it had from the API, over file and
   * container labels. The cgroup must exist. Returns the workload as it is now.
   */
  label(cgroup: string, labels: Readonly<Record<string, string>>, namespace?: string): WorkloadDetail {
    const path = this.resolve(cgroup);
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string') throw new Error(`label ${JSON.stringify(k)}: expected a string value, got ${JSON.stringify(v)}`);
      const problem = labelKeyProblem(k) ?? labelValueProblem(v);
      if (problem) throw new Error(problem);
    }
    if (namespace !== undefined) {
      const problem = typeof namespace === 'string' ? namespaceProblem(namespace) : `namespace: expected a string, got ${JSON.stringify(namespace)}`;
      if (problem) throw new Error(problem);
    }
    if (cgroupIdOf(cgroupDir(this.root, path)) === null) throw new Error(`no cgroup ${path} under ${this.root}`);
    const prev = this.api.get(path);
    const next: ApiLabels = { labels: { ...prev?.labels, ...labels } };
    const ns = namespace ?? prev?.namespace;
    if (ns !== undefined) next.namespace = ns;
    this.api.set(path, next);
    this.refresh();
    const w = this.current.get(path);
    if (!w) throw new Error(`cgroup ${path} disappeared`);
    return w;
  }

  /** Drops the API's labels of a cgroup; file and container labels stay. False when it had none. */
  unlabel(cgroup: string): boolean {
    const had = this.api.delete(this.resolve(cgroup));
    if (had) this.refresh();
    return had;
  }

  /** Re-reads the labels file (when it changed), container cgroups, ids, processes and addresses. */
  refresh(): boolean {
    this.reloadFileIfChanged();
    if (this.opts.discoverContainers !== false) {
      this.containers = new Set(walkCgroups(this.root, (p) => parseContainerCgroup(p) !== null, mayHoldContainers));
    }
    const paths = new Set([...this.fileEntries.keys(), ...this.api.keys(), ...this.containers]);
    const next = new Map<string, WorkloadDetail>();
    const pending: PendingCgroup[] = [];
    const addressesByNetns = new Map<number, string[]>();
    for (const path of [...paths].sort()) {
      const sources = this.sourcesOf(path);
      const dir = cgroupDir(this.root, path);
      const id = cgroupIdOf(dir);
      if (id === null) {
        pending.push({ cgroupPath: path, sources });
        continue;
      }
      const procs = readCgroupProcs(dir);
      const pid = procs[0] ?? findProcess(dir);
      next.set(path, {
        cgroupId: id,
        cgroupPath: path,
        namespace: this.api.get(path)?.namespace ?? this.fileEntries.get(path)?.namespace ?? DEFAULT_NAMESPACE,
        labels: this.labelsOf(path),
        ips: pid === undefined ? [] : this.addressesOf(pid, addressesByNetns),
        processes: procs.length,
        sources,
      });
    }
    this.pending = pending;
    const changed = !sameWorkloads(this.current, next);
    this.current = next;
    this.byId = new Map([...next.values()].map((w) => [w.cgroupId, w]));
    if (changed) {
      const list = this.list();
      for (const l of this.listeners) l(list);
    }
    return changed;
  }

  private sourcesOf(path: string): LabelSource[] {
    const out: LabelSource[] = [];
    if (this.fileEntries.has(path)) out.push('file');
    if (this.api.has(path)) out.push('api');
    if (this.containers.has(path)) out.push('container');
    return out;
  }

  /** Container labels, then the file's, then the API's: the later wins a key. */
  private labelsOf(path: string): Record<string, string> {
    const c = this.containers.has(path) ? parseContainerCgroup(path) : null;
    const merged = { ...(c ? containerLabels(c) : {}), ...this.fileEntries.get(path)?.labels, ...this.api.get(path)?.labels };
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(merged).sort()) sorted[k] = merged[k]!;
    return sorted;
  }

  /** Addresses of the namespace pid runs in; none for the host's. Read once per namespace per refresh. */
  private addressesOf(pid: number, cache: Map<number, string[]>): string[] {
    let netns: number;
    try {
      netns = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1] ?? 0);
    } catch {
      return []; // exited meanwhile
    }
    if (netns === 0 || netns === this.hostNetns) return [];
    let ips = cache.get(netns);
    if (ips === undefined) {
      ips = readNetnsAddresses(pid);
      cache.set(netns, ips);
    }
    return ips;
  }

  private reloadFileIfChanged(): void {
    if (this.file === null) return;
    let stamp = '';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // absent: no labels from the file
    }
    if (stamp === this.fileStamp) return;
    this.fileStamp = stamp;
    if (stamp === '') {
      if (this.fileEntries.size > 0) this.opts.log?.info({ file: this.file }, 'workload labels file removed: its labels are gone');
      this.fileEntries.clear();
      this.fileErrors = [];
      this.fileLoaded = false;
      return;
    }
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      this.fileErrors = [`${this.file}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`];
      this.opts.log?.warn({ file: this.file, errors: this.fileErrors }, 'workload labels file not read: previous labels stay');
      return;
    }
    const r = parseWorkloadsFile(text, this.file, this.root);
    this.fileErrors = r.errors.map(formatPolicyError);
    if (r.errors.length > 0) {
      // A mistake in the file must not take labels (and the policy that selects them) away.
      for (const e of this.fileErrors) this.opts.log?.warn({ file: this.file }, `workload labels file rejected: ${e}`);
      return;
    }
    this.fileEntries.clear();
    for (const e of r.entries) this.fileEntries.set(e.cgroup, e);
    this.fileLoaded = true;
    this.opts.log?.info({ file: this.file, entries: r.entries.length }, 'workload labels file loaded');
  }
}

function toWorkload(d: WorkloadDetail): Workload {
  return { cgroupId: d.cgroupId, cgroupPath: d.cgroupPath, namespace: d.namespace, labels: d.labels, ips: d.ips };
}

/** Equal as Workload sets (process counts and sources do not count as changes). */
function sameWorkloads(a: ReadonlyMap<string, WorkloadDetail>, b: ReadonlyMap<string, WorkloadDetail>): boolean {
  if (a.size !== b.size) return false;
  for (const [path, x] of a) {
    const y = b.get(path);
    if (!y || x.cgroupId !== y.cgroupId || x.namespace !== y.namespace) return false;
    if (x.ips.length !== y.ips.length || x.ips.some((ip, i) => y.ips[i] !== ip)) return false;
    const xk = Object.keys(x.labels);
    const yk = Object.keys(y.labels);
    if (xk.length !== yk.length || xk.some((k, i) => yk[i] !== k || x.labels[k] !== y.labels[k])) return false;
  }
  return true;
}
