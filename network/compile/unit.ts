// A policy's compiled form that does not depend on which workloads or CIDRs exist: per subject, its
// rules as atoms (rule id, mode, marks, L4 keys) with the peers still to resolve. Built once per add.
import { canonicalV4Prefix, contains, memoPrefix, parsePrefix, type Prefix } from '../identity/cidr.js';
import type { Entity, NetPolicy, NetRule, Peer, PolicySubject, Selector } from '../policy/types.js';
import { policyKey } from '../policy/types.js';
import type { Atom } from './fold.js';
import { l4Keys } from './l4.js';
import type { RuleIds } from './rule-ids.js';

/** A peer with its prefixes parsed once, for the resolver. */
export type PeerSpec =
  | { kind: 'selector'; selector: Selector }
  | { kind: 'cidr'; cidr: string; prefix: Prefix; except: Prefix[]; ref: UnitCidr }
  | { kind: 'entity'; entity: Entity };

/** A prefix the unit names, and its CIDR identity while the unit is loaded (set by the compiler's load:
 *  the unit holds a reference, so the id cannot change meanwhile). */
export interface UnitCidr {
  prefix: Prefix;
  id: number;
}

export interface RuleAtom extends Atom {
  dir: 0 | 1;
  rule: NetRule;
  /** null: every peer. */
  peers: PeerSpec[] | null;
}

export interface SubjectUnit {
  subject: PolicySubject;
  atoms: RuleAtom[];
}

export interface PolicyUnit {
  key: string;
  policy: NetPolicy;
  subjects: SubjectUnit[];
  /** Every prefix the rules name (CIDRs and excepts), canonical, once each, with its parsed form. */
  cidrs: Map<string, UnitCidr>;
  /** The CIDR peers (not excepts): the unit re-resolves when a prefix inside one comes or goes. */
  cidrPeers: Prefix[];
  /** A rule names the world entity: every CIDR identity is its peer. */
  usesWorld: boolean;
  /** A rule names the cluster entity: every workload identity is its peer. */
  usesCluster: boolean;
  /** Binary lists whose marks this unit holds (to give back when it goes). */
  binaries: string[][];
  ruleIds: number[];
}

/** Mark bits for a list of binaries (network/compile opts.markBits); may throw when bits run out. */
export type MarkBits = (binaries: string[]) => bigint;

export class UnitError extends Error {
  constructor(readonly policy: NetPolicy, readonly rule: NetRule, message: string) {
    super(message);
  }
}

/**
 * An IPv6 prefix that covers the v4-mapped range (::/0, ::ffff:0:0/96 and shorter) would also catch
 * IPv4 addresses in the kernel's single LPM; 0.0.0.0/0 in the ipcache keeps IPv4 addresses out of it.
 */
const V4_GUARD = '0.0.0.0/0';
const NO_EXCEPT: Prefix[] = [];
const V4_MAPPED_SPACE = parsePrefix('::ffff:0:0/96') as Prefix;

/** `known` returns the parsed form of a prefix the caller already holds (parsing is the costly part). */
export function buildUnit(
  policy: NetPolicy,
  ruleIds: RuleIds,
  markBits: MarkBits | undefined,
  releaseMarks?: (b: string[]) => void,
  known: (cidr: string) => Prefix | undefined = () => undefined,
): PolicyUnit {
  const key = policyKey(policy);
  const cidrs = new Map<string, UnitCidr>();
  const cidrPeers: Prefix[] = [];
  const binaries: string[][] = [];
  const ids: number[] = [];
  let usesWorld = false;
  let usesCluster = false;
  const named = (cidr: string): UnitCidr => {
    let u = cidrs.get(cidr);
    if (!u) {
      // IPv4 parses faster than a lookup among tens of thousands; the parser's memo has the others
      const p = canonicalV4Prefix(cidr) ?? memoPrefix(cidr) ?? known(cidr) ?? (parsePrefix(cidr) as Prefix);
      cidrs.set(cidr, (u = { prefix: p, id: 0 }));
      if (!p.v4 && contains(p, V4_MAPPED_SPACE)) cidrs.set(V4_GUARD, { prefix: parsePrefix(V4_GUARD) as Prefix, id: 0 });
    }
    return u;
  };
  const prefix = (cidr: string): Prefix => named(cidr).prefix;
  const spec = (p: Peer): PeerSpec => {
    if (p.kind === 'selector') return p;
    if (p.kind === 'entity') {
      if (p.entity === 'world') usesWorld = true;
      if (p.entity === 'cluster') usesCluster = true;
      return p;
    }
    const ref = named(p.cidr.cidr);
    cidrPeers.push(ref.prefix);
    return { kind: 'cidr', cidr: p.cidr.cidr, prefix: ref.prefix, except: p.cidr.except.length === 0 ? NO_EXCEPT : p.cidr.except.map(prefix), ref };
  };
  try {
    const subjects = policy.subjects.map((subject): SubjectUnit => {
      const atoms = subject.rules.map((rule): RuleAtom => {
        const peers = rule.peers === null ? null : rule.peers.map(spec);
        let marks = 0n;
        if (rule.binaries) {
          if (!markBits) throw new UnitError(policy, rule, 'binaries need process marks, and this compile has no mark allocator');
          try {
            marks = markBits([...rule.binaries]);
          } catch (e) {
            throw new UnitError(policy, rule, `cannot mark binaries ${rule.binaries.join(', ')}: ${(e as Error).message}`);
          }
          binaries.push([...rule.binaries]);
        }
        const ruleId = ruleIds.id(policy, subject.selector, rule, key);
        ids.push(ruleId);
        return { dir: rule.dir === 'ingress' ? 0 : 1, deny: rule.verdict === 'deny', enforce: policy.mode === 'enforce', ruleId, marks, l4: l4Keys(rule.l4), rule, peers };
      });
      return { subject, atoms };
    });
    return { key, policy, subjects, cidrs, cidrPeers, usesWorld, usesCluster, binaries, ruleIds: ids };
  } catch (e) {
    for (const b of binaries) releaseMarks?.(b);
    throw e;
  }
}
