// The incremental policy compiler. It keeps each policy's compiled unit and the (direction, local, peer)
// groups it feeds; a change re-resolves only the policies it can affect (new or removed policies, those
// whose selectors match an identity that came or went, those whose CIDRs contain a prefix that came or
// went) and refolds only the groups whose contributions changed.
import type { CgroupEntry, DatapathState, IdentityDefaults, IpcacheEntry, RuleInfo, Workload } from '../model.js';
import { ID } from '../model.js';
import { mask } from '../identity/cidr.js';
import { CidrIdentities, isCidrIdentity, type CidrIdentity } from '../identity/cidrs.js';
import { addressEntries, buildIpcache } from '../identity/ipcache.js';
import { WorkloadIdentities, type NamespaceLabels, type WorkloadIdentity } from '../identity/workloads.js';
import { matches, selectorKey } from '../policy/selectors.js';
import type { NetPolicy, Selector } from '../policy/types.js';
import { PairTable } from '../util/pair-table.js';
import { EntryTable, NO_ENTRIES, type Entries } from './entry-table.js';
import { foldGroup, foldSingle, type Atom } from './fold.js';
import { processRuleIds, type RuleIds } from './rule-ids.js';
import { buildUnit, cidrPeers, NO_EXCEPT, type MarkBits, type PeerSpec, type PolicyUnit, type RuleAtom } from './unit.js';

export interface CompileOptions {
  /** Mark bit(s) for a rule restricted to binaries (put in allow_marks / deny_marks). */
  markBits?: MarkBits;
  /** Gives back what markBits handed out, when the rule goes. */
  releaseMarks?: (binaries: string[]) => void;
  /** Defaults to the process-wide registry, so ids stay stable across compilers. */
  ruleIds?: RuleIds;
  /** This host's addresses: peers with them are HOST. */
  hostIps?: readonly string[];
  /** Namespace labels for NetworkPolicy namespaceSelector and Cilium's namespace-label keys. */
  namespaceLabels?: NamespaceLabels;
}

export interface Change {
  /** Policies to add or replace (by kind, namespace and name). */
  upsert?: readonly NetPolicy[];
  /** Policy keys (policyKey) to remove. */
  remove?: readonly string[];
  /** The complete new workload list. */
  workloads?: readonly Workload[];
}


/** What one policy brings to one group: its one atom there (the common case, no array), or several. */
type Contribution = Atom | Atom[];

const atomsOf = (c: Contribution): readonly Atom[] => (Array.isArray(c) ? c : [c]);

/**
 * One (direction, local, peer) key space. Few policies feed one group: parallel lists beat a Map. Most
 * groups have one policy: it is held in fields, the others in lists made on demand. A plain object
 * from one literal (newGroup): V8 pretenures the site, as every group of a bulk load survives.
 */
interface Group {
  readonly dir: 0 | 1;
  readonly local: number;
  readonly peer: number;
  key0: string | null;
  c0: Contribution | null;
  keys: string[] | null;
  cs: Contribution[] | null;
  entries: Entries;
  /** In the current update's dirty list (a flag and a list: cheaper than a Set of every group). */
  dirty: boolean;
  /** The resolve that last added this group to a footprint, and where (merges a policy's atoms without a Map). */
  stamp: number;
  at: number;
}

const newGroup = (dir: 0 | 1, local: number, peer: number): Group => ({
  dir, local, peer, key0: null, c0: null, keys: null, cs: null, entries: NO_ENTRIES, dirty: false, stamp: 0, at: 0,
});

function setContribution(g: Group, key: string, c: Contribution): void {
  if (g.key0 === null || g.key0 === key) {
    g.key0 = key;
    g.c0 = c;
    return;
  }
  const i = g.keys ? g.keys.indexOf(key) : -1;
  if (i >= 0) g.cs![i] = c;
  else {
    (g.keys ??= []).push(key);
    (g.cs ??= []).push(c);
  }
}

function deleteContribution(g: Group, key: string): void {
  if (g.key0 === key) {
    // the next one moves up
    g.key0 = g.keys?.shift() ?? null;
    g.c0 = g.cs?.shift() ?? null;
  } else {
    const i = g.keys ? g.keys.indexOf(key) : -1;
    if (i < 0) return;
    g.keys!.splice(i, 1);
    g.cs!.splice(i, 1);
  }
  if (g.keys?.length === 0) g.keys = g.cs = null;
}

/** The one atom of a group fed by one policy's one rule, or null. */
const singleAtom = (g: Group): Atom | null => (g.keys === null && g.c0 !== null && !Array.isArray(g.c0) ? g.c0 : null);

function contributions(g: Group): Array<readonly Atom[]> {
  const out = g.c0 === null ? [] : [atomsOf(g.c0)];
  for (const c of g.cs ?? []) out.push(atomsOf(c));
  return out;
}

/** The groups a policy feeds and what it brings to each, in two parallel lists. */
interface Footprint {
  groups: Group[];
  contributions: Contribution[];
}

const NO_FOOTPRINT: Footprint = { groups: [], contributions: [] };

interface Loaded {
  unit: PolicyUnit;
  /** Workload identities each subject selects. */
  locals: Array<readonly number[]>;
  footprint: Footprint;
  /** Pairs (local identity, bits: 0 ingress enf, 1 ingress all, 2 egress enf, 3 egress all), each
   *  local once. A list, not a Map: a policy selects few identities, and a bulk load has thousands. */
  defaults: number[];
}

/** A local's default bits in a Loaded.defaults list. */
function defaultBits(list: readonly number[], local: number): number {
  for (let i = 0; i < list.length; i += 2) if (list[i] === local) return list[i + 1]!;
  return 0;
}

const DIRS = ['ingress', 'egress'] as const;

/** What one update has touched so far. */
interface Pass {
  /** Policies to resolve again. */
  dirty: Set<Loaded>;
  /** Groups whose contributions changed: to fold again (add with markDirty). */
  dirtyGroups: Group[];
  changedIdentities: WorkloadIdentity[];
}

export class PolicyCompiler {
  private readonly idents: WorkloadIdentities;
  private readonly cidrs = new CidrIdentities();
  private readonly ruleIds: RuleIds;
  private readonly loaded = new Map<string, Loaded>();
  /** By (peer, local * 2 + dir). */
  private readonly groups = new PairTable<Group>();
  private readonly defaultCounts = new Map<number, [number, number, number, number]>();
  private workloads: readonly Workload[] = [];
  private workloadIds: number[] = [];
  /** Host and workload ipcache entries, rebuilt when the workloads change. */
  private addresses: IpcacheEntry[] = [];
  private addressCidrs = new Set<string>();
  /** CIDR peers of the loaded units by prefix length and address, to find who contains a changed prefix. */
  private readonly cidrIndex = new Map<number, Map<bigint, Loaded[]>>();
  /** The index is built at the first change that needs it, so a bulk load does not pay for it. */
  private cidrIndexBuilt = false;
  private readonly worldUsers = new Set<Loaded>();
  private readonly entries = new EntryTable();
  private current: DatapathState = { policy: [], defaults: [], ipcache: [], cgroups: [] };
  /** defaultDenyBy's answers and the loaded keys in order, until the next update(). */
  /** Counts resolve() calls: a group stamped with the current count is in the footprint being built. */
  private resolves = 0;
  /** selected()'s answers in this update (the identities are fixed once setWorkloads has run). */
  private readonly selectedMemo = new Map<string, number[]>();
  private readonly defaultDenyMemo = new Map<number, NetPolicy | null>();
  private sortedKeys: string[] | null = null;

  constructor(private readonly opts: CompileOptions = {}) {
    this.idents = new WorkloadIdentities(opts.namespaceLabels);
    this.ruleIds = opts.ruleIds ?? processRuleIds;
  }

  get state(): DatapathState {
    return this.current;
  }

  /** Applies a change and returns the new state. Throws UnitError (with nothing changed) when a policy cannot be compiled. */
  update(change: Change): DatapathState {
    this.defaultDenyMemo.clear();
    this.selectedMemo.clear();
    this.sortedKeys = null;
    const built = this.build(change.upsert ?? []);
    const pass: Pass = { dirty: new Set(), dirtyGroups: [], changedIdentities: [] };
    if (change.workloads) this.setWorkloads(change.workloads, pass);
    const removals = new Set(change.remove ?? []);
    for (const u of built) removals.add(u.key);
    for (const key of removals) this.unload(key, pass);
    for (const unit of built) this.load(unit, pass);
    // the new units took their references before the old ones gave theirs back: a prefix both name
    // keeps its identity
    const cidrs = this.cidrs.changes();
    const cidrsChanged = cidrs.added.length > 0 || cidrs.removed.length > 0;

    // Policies loaded before this change whose peers or subjects depend on what came or went.
    if (cidrsChanged && this.loaded.size > built.length) this.touchedByPrefixes([...cidrs.added, ...cidrs.removed], pass.dirty);
    if (pass.changedIdentities.length > 0) {
      for (const l of this.loaded.values()) if (!pass.dirty.has(l) && this.touchedByIdentities(l.unit, pass.changedIdentities)) pass.dirty.add(l);
    }
    for (const l of pass.dirty) this.resolve(l, pass.dirtyGroups);
    for (const g of pass.dirtyGroups) {
      g.dirty = false;
      this.refold(g);
    }

    const next: DatapathState = { ...this.current };
    delete next.policyDelta;
    if (pass.dirtyGroups.length > 0) {
      const snap = this.entries.snapshot();
      next.policy = snap.entries;
      next.policyDelta = { base: new WeakRef(this.current), added: snap.added, removed: snap.removed };
    }
    if (pass.dirty.size > 0 || removals.size > 0 || change.workloads) next.defaults = this.collectDefaults();
    delete next.ipcacheDelta;
    if (change.workloads || cidrsChanged) next.ipcache = buildIpcache(this.addresses, this.cidrs);
    if (!change.workloads && cidrsChanged) {
      // the addresses stayed: only CIDR entries came or went (those equal to an address are not in the ipcache)
      const listed = (e: IpcacheEntry): boolean => !this.addressCidrs.has(e.cidr);
      next.ipcacheDelta = { base: new WeakRef(this.current), added: cidrs.added.filter(listed), removed: cidrs.removed.filter(listed) };
    }
    if (change.workloads) next.cgroups = this.workloads.map((w, i): CgroupEntry => ({ cgroupId: w.cgroupId, identity: this.workloadIds[i]! }));
    this.current = next;
    return next;
  }

  /** Compiles the new policies' units before anything changes, so a failure leaves no trace. */
  private build(policies: readonly NetPolicy[]): PolicyUnit[] {
    const built: PolicyUnit[] = [];
    // a bulk load: room for about one prefix and one group per rule, made at once
    let rules = 0;
    for (const p of policies) for (const s of p.subjects) rules += s.rules.length;
    if (rules > 1024) {
      this.cidrs.reserve(rules);
      this.groups.reserve(rules);
    }
    try {
      for (const p of policies) built.push(buildUnit(p, this.ruleIds, this.opts.markBits, this.opts.releaseMarks, this.cidrs));
    } catch (e) {
      for (const u of built) this.release(u);
      throw e;
    }
    return built;
  }

  private setWorkloads(workloads: readonly Workload[], pass: Pass): void {
    this.selectedMemo.clear();
    const before = new Map<number, WorkloadIdentity>();
    for (const i of this.idents.all()) before.set(i.id, i);
    const ids = workloads.map((w) => this.idents.acquire(w.namespace, w.labels));
    for (const id of this.workloadIds) this.idents.release(id);
    this.workloads = workloads;
    this.workloadIds = ids;
    for (const i of this.idents.all()) if (!before.delete(i.id)) pass.changedIdentities.push(i);
    pass.changedIdentities.push(...before.values());
    this.addresses = addressEntries(this.opts.hostIps ?? [], workloads.map((w, i) => ({ ips: w.ips, identity: ids[i]! })));
    this.addressCidrs = new Set(this.addresses.map((a) => a.cidr));
  }

  private unload(key: string, pass: Pass): void {
    const l = this.loaded.get(key);
    if (!l) return;
    this.setFootprint(l, NO_FOOTPRINT, pass.dirtyGroups);
    this.setDefaults(l, []);
    this.unindex(l);
    this.release(l.unit);
    this.loaded.delete(key);
  }

  private load(unit: PolicyUnit, pass: Pass): void {
    const l: Loaded = { unit, locals: [], footprint: NO_FOOTPRINT, defaults: [] };
    this.loaded.set(unit.key, l);
    this.index(l);
    pass.dirty.add(l);
  }

  private refold(g: Group): void {
    if (g.key0 === null) {
      this.groups.delete(g.peer, g.local * 2 + g.dir);
      this.entries.replace(g.entries, NO_ENTRIES);
      g.entries = NO_ENTRIES;
    } else {
      const one = singleAtom(g);
      const entries = one ? foldSingle(DIRS[g.dir], g.local, g.peer, one) : foldGroup(DIRS[g.dir], g.local, g.peer, contributions(g));
      this.entries.replace(g.entries, entries);
      g.entries = entries;
    }
  }

  /**
   * The first policy (by key) that makes a direction of a local identity default-deny: with `audit`,
   * the first in audit mode counted in the all-policies evaluation (an AUDIT verdict's default deny).
   * Asked for every default-deny verdict event: answers are kept until the next update().
   */
  defaultDenyBy(local: number, dir: 'ingress' | 'egress', audit: boolean): NetPolicy | undefined {
    const bit = (dir === 'ingress' ? 0 : 2) + (audit ? 1 : 0);
    const memo = local * 4 + bit;
    if (this.defaultDenyMemo.has(memo)) return this.defaultDenyMemo.get(memo) ?? undefined;
    this.sortedKeys ??= [...this.loaded.keys()].sort();
    let by: NetPolicy | null = null;
    for (const key of this.sortedKeys) {
      const l = this.loaded.get(key)!;
      if ((defaultBits(l.defaults, local) >> bit) & 1 && (!audit || l.unit.policy.mode === 'audit')) {
        by = l.unit.policy;
        break;
      }
    }
    this.defaultDenyMemo.set(memo, by);
    return by ?? undefined;
  }

  /** The loaded policies' units. */
  units(): IterableIterator<PolicyUnit> {
    return [...this.loaded.values()].map((l) => l.unit).values();
  }

  unit(key: string): PolicyUnit | undefined {
    return this.loaded.get(key)?.unit;
  }

  /** How many workloads a loaded policy selects. */
  selectedWorkloads(key: string): number {
    const l = this.loaded.get(key);
    if (!l) return 0;
    const ids = new Set(l.locals.flat());
    return this.workloadIds.filter((id) => ids.has(id)).length;
  }

  /** The rules of the loaded policies. */
  rules(): RuleInfo[] {
    const out: RuleInfo[] = [];
    for (const l of this.loaded.values()) for (const s of l.unit.subjects) for (const a of s.atoms) out.push(this.ruleIds.info(a.ruleId)!);
    return out;
  }

  rule(id: number): RuleInfo | undefined {
    return this.ruleIds.info(id);
  }

  /** Gives back what a unit holds: its CIDR identities and its mark bits. */
  private release(u: PolicyUnit): void {
    for (const c of u.cidrs) this.cidrs.release(c);
    for (const b of u.binaries) this.opts.releaseMarks?.(b);
  }

  private touchedByIdentities(u: PolicyUnit, changed: readonly WorkloadIdentity[]): boolean {
    if (u.usesCluster) return true;
    for (const s of u.subjects) {
      for (const i of changed) if (matches(s.subject.selector, i.selectorLabels)) return true;
      for (const a of s.atoms) {
        if (a.peers === null || isCidrIdentity(a.peers)) continue;
        for (const p of a.peers) {
          if (p.kind === 'selector') for (const i of changed) if (matches(p.selector, i.selectorLabels)) return true;
        }
      }
    }
    return false;
  }

  /** Units whose CIDR peers contain a prefix that came or went (found by looking up the prefix's ancestors), and world users. */
  private touchedByPrefixes(changed: readonly CidrIdentity[], dirty: Set<Loaded>): void {
    for (const l of this.worldUsers) dirty.add(l);
    if (!this.cidrIndexBuilt) {
      this.cidrIndexBuilt = true;
      for (const l of this.loaded.values()) this.index(l);
    }
    for (const prefix of changed) {
      for (const [bits, byAddr] of this.cidrIndex) {
        if (bits > prefix.bits) continue;
        const users = byAddr.get(prefix.addr & mask(bits));
        if (users) for (const l of users) dirty.add(l);
      }
    }
  }

  private index(l: Loaded): void {
    if (l.unit.usesWorld) this.worldUsers.add(l);
    if (!this.cidrIndexBuilt) return;
    for (const p of cidrPeers(l.unit)) {
      let byAddr = this.cidrIndex.get(p.bits);
      if (!byAddr) this.cidrIndex.set(p.bits, (byAddr = new Map()));
      const users = byAddr.get(p.addr);
      if (!users) byAddr.set(p.addr, [l]);
      else if (!users.includes(l)) users.push(l);
    }
  }

  private unindex(l: Loaded): void {
    this.worldUsers.delete(l);
    if (!this.cidrIndexBuilt) return;
    for (const p of cidrPeers(l.unit)) {
      const byAddr = this.cidrIndex.get(p.bits);
      const users = byAddr?.get(p.addr);
      const i = users ? users.indexOf(l) : -1;
      if (i >= 0) users!.splice(i, 1);
      if (users?.length === 0) byAddr!.delete(p.addr);
      if (byAddr?.size === 0) this.cidrIndex.delete(p.bits);
    }
  }

  /** The peer identities of an atom: one as a number (the common rule of a large set: one address, its
   *  own identity; no array), several as a list. */
  private resolvePeers(peers: readonly PeerSpec[] | CidrIdentity | null): number | number[] {
    if (peers === null) return ID.ANY;
    if (isCidrIdentity(peers) && peers.bits === 128) return peers.identity;
    const out: number[] = [];
    if (isCidrIdentity(peers)) {
      this.cidrs.inside(peers, NO_EXCEPT, out);
      return out;
    }
    for (const p of peers) {
      if (p.kind === 'selector') {
        for (const id of this.selected(p.selector)) out.push(id);
      } else if (p.kind === 'cidr') {
        if (p.ref.bits === 128 && p.except.length === 0) out.push(p.ref.identity);
        else this.cidrs.inside(p.ref, p.except, out);
      } else if (p.entity === 'all') out.push(ID.ANY);
      else if (p.entity === 'host') out.push(ID.HOST);
      else if (p.entity === 'cluster') {
        out.push(ID.HOST);
        for (const i of this.idents.all()) out.push(i.id);
      } else {
        out.push(ID.WORLD);
        for (const c of this.cidrs.all()) out.push(c.identity);
      }
    }
    return peers.length > 1 ? [...new Set(out)] : out;
  }

  private resolve(l: Loaded, dirtyGroups: Group[]): void {
    const fp: Footprint = { groups: [], contributions: [] };
    const stamp = ++this.resolves;
    const defaults: number[] = [];
    // with one subject each local comes once; with several, a local two subjects select is merged
    const several = l.unit.subjects.length > 1;
    const enforce = l.unit.policy.mode === 'enforce';
    const add = (a: RuleAtom, local: number, peer: number): void => {
      const g = this.group(a.dir, local, peer);
      if (g.stamp !== stamp) {
        g.stamp = stamp;
        g.at = fp.groups.length;
        fp.groups.push(g);
        fp.contributions.push(a);
        return;
      }
      const had = fp.contributions[g.at]!;
      if (Array.isArray(had)) had.push(a);
      else fp.contributions[g.at] = [had, a];
    };
    l.locals = l.unit.subjects.map((s) => {
      const locals = this.selected(s.subject.selector);
      const dd = s.subject.defaultDeny;
      const bits = (dd.ingress ? (enforce ? 3 : 2) : 0) | (dd.egress ? (enforce ? 12 : 8) : 0);
      const peers = s.atoms.map((a) => this.resolvePeers(a.peers));
      for (const local of locals) {
        if (bits) {
          let i = several ? defaults.indexOf(local) : -1;
          while (i >= 0 && i % 2 === 1) i = defaults.indexOf(local, i + 1);
          if (i >= 0) defaults[i + 1]! |= bits;
          else defaults.push(local, bits);
        }
        for (let ai = 0; ai < s.atoms.length; ai++) {
          const a: RuleAtom = s.atoms[ai]!;
          const ps = peers[ai]!;
          if (typeof ps === 'number') add(a, local, ps);
          else for (const peer of ps) add(a, local, peer);
        }
      }
      return locals;
    });
    this.setFootprint(l, fp, dirtyGroups);
    this.setDefaults(l, defaults);
  }

  /** The workload identities a selector selects: asked once per distinct selector in an update (many
   *  policies share one), not once per policy and identity. Read-only: lists are shared. */
  private selected(s: Selector): readonly number[] {
    const key = selectorKey(s);
    let ids = this.selectedMemo.get(key);
    if (!ids) {
      ids = [];
      for (const i of this.idents.all()) if (matches(s, i.selectorLabels)) ids.push(i.id);
      this.selectedMemo.set(key, ids);
    }
    return ids;
  }

  private group(dir: 0 | 1, local: number, peer: number): Group {
    let g = this.groups.get(peer, local * 2 + dir);
    if (!g) this.groups.set(peer, local * 2 + dir, (g = newGroup(dir, local, peer)));
    return g;
  }

  private setFootprint(l: Loaded, next: Footprint, dirtyGroups: Group[]): void {
    const key = l.unit.key;
    const dirty = (g: Group): void => {
      if (g.dirty) return;
      g.dirty = true;
      dirtyGroups.push(g);
    };
    const old = l.footprint;
    // a group the policy fed before and still feeds is dirty only when its atoms changed
    const before = old.groups.length > 0 && next.groups.length > 0 ? new Map<Group, Contribution>() : null;
    for (let i = 0; i < old.groups.length; i++) {
      const g = old.groups[i]!;
      if (before) before.set(g, old.contributions[i]!);
      else {
        deleteContribution(g, key);
        dirty(g);
      }
    }
    for (let i = 0; i < next.groups.length; i++) {
      const g = next.groups[i]!;
      const c = next.contributions[i]!;
      const had = before?.get(g);
      if (had === undefined || !sameAtoms(had, c)) dirty(g);
      before?.delete(g);
      setContribution(g, key, c);
    }
    if (before) {
      for (const g of before.keys()) {
        deleteContribution(g, key);
        dirty(g);
      }
    }
    l.footprint = next;
  }

  private setDefaults(l: Loaded, next: number[]): void {
    const bump = (local: number, bits: number, by: number): void => {
      let c = this.defaultCounts.get(local);
      if (!c) this.defaultCounts.set(local, (c = [0, 0, 0, 0]));
      for (let b = 0; b < 4; b++) if (bits & (1 << b)) c[b]! += by;
      if (c.every((n) => n === 0)) this.defaultCounts.delete(local);
    };
    for (let i = 0; i < l.defaults.length; i += 2) bump(l.defaults[i]!, l.defaults[i + 1]!, -1);
    for (let i = 0; i < next.length; i += 2) bump(next[i]!, next[i + 1]!, 1);
    l.defaults = next;
  }

  private collectDefaults(): IdentityDefaults[] {
    const out: IdentityDefaults[] = [];
    for (const i of this.idents.all()) {
      const c = this.defaultCounts.get(i.id);
      out.push({ localId: i.id, ingressEnf: (c?.[0] ?? 0) > 0, ingressAll: (c?.[1] ?? 0) > 0, egressEnf: (c?.[2] ?? 0) > 0, egressAll: (c?.[3] ?? 0) > 0 });
    }
    return out;
  }
}

function sameAtoms(a: Contribution, b: Contribution): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
