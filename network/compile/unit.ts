// A policy's compiled form that does not depend on which workloads or CIDRs exist: per subject, its
// rules as atoms (rule id, mode, marks, L4 keys) with the peers still to resolve. Built once per add.
import { contains, parsePrefix, type Prefix } from '../identity/cidr.js';
import { isCidrIdentity, type CidrIdentities, type CidrIdentity } from '../identity/cidrs.js';
import type { Entity, NetPolicy, NetRule, Peer, PolicySubject, Selector } from '../policy/types.js';
import { policyKey } from '../policy/types.js';
import type { Atom } from './fold.js';
import { l4Keys } from './l4.js';
import type { RuleIds, RuleRecord } from './rule-ids.js';

/** A peer as the resolver needs it: a CIDR by its identity (which holds the parsed prefix), its excepts parsed. */
export type PeerSpec =
  | { kind: 'selector'; selector: Selector }
  | { kind: 'cidr'; ref: CidrIdentity; except: readonly Prefix[] }
  | { kind: 'entity'; entity: Entity };

export interface RuleAtom extends Atom, RuleRecord {
  dir: 0 | 1;
  /** null: every peer. A CIDR identity alone: the rule's one peer is that prefix without except (the
   *  common rule of a large set, held without a list). */
  peers: PeerSpec[] | CidrIdentity | null;
}

export interface SubjectUnit {
  subject: PolicySubject;
  atoms: RuleAtom[];
}

export interface PolicyUnit {
  key: string;
  policy: NetPolicy;
  subjects: SubjectUnit[];
  /** The CIDR identities of every prefix the rules name (CIDRs and excepts), one reference per mention,
   *  held from the build until the compiler unloads the unit (so their ids cannot change meanwhile). */
  cidrs: CidrIdentity[];
  /** A rule names the world entity: every CIDR identity is its peer. */
  usesWorld: boolean;
  /** A rule names the cluster entity: every workload identity is its peer. */
  usesCluster: boolean;
  /** Binary lists whose marks this unit holds (to give back when it goes). */
  binaries: string[][];
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
export const NO_EXCEPT: readonly Prefix[] = [];
const V4_MAPPED_SPACE = parsePrefix('::ffff:0:0/96') as Prefix;

/** One CIDR peer without except. */
const onlyCidr = (peers: readonly Peer[]): peers is [Peer & { kind: 'cidr' }] => peers.length === 1 && peers[0]!.kind === 'cidr' && peers[0].cidr.except.length === 0;

/** Takes a reference on the CIDR identity of every prefix the policy names (the compiler gives them
 *  back when it unloads the unit; they are given back here when the build fails). */
export function buildUnit(
  policy: NetPolicy,
  ruleIds: RuleIds,
  markBits: MarkBits | undefined,
  releaseMarks: ((b: string[]) => void) | undefined,
  identities: CidrIdentities,
): PolicyUnit {
  const key = policyKey(policy);
  const cidrs: CidrIdentity[] = [];
  const binaries: string[][] = [];
  let usesWorld = false;
  let usesCluster = false;
  let guarded = false;
  const policyIds = ruleIds.policy(policy, key);
  const named = (cidr: string): CidrIdentity => {
    const c = identities.acquire(cidr);
    cidrs.push(c);
    if (!guarded && !c.v4 && contains(c, V4_MAPPED_SPACE)) {
      guarded = true;
      cidrs.push(identities.acquire(V4_GUARD));
    }
    return c;
  };
  const prefix = (cidr: string): Prefix => named(cidr);
  const peer = named;
  const spec = (p: Peer): PeerSpec => {
    if (p.kind === 'selector') return p;
    if (p.kind === 'entity') {
      if (p.entity === 'world') usesWorld = true;
      if (p.entity === 'cluster') usesCluster = true;
      return p;
    }
    return { kind: 'cidr', ref: peer(p.cidr.cidr), except: p.cidr.except.length === 0 ? NO_EXCEPT : p.cidr.except.map(prefix) };
  };
  try {
    const subjects = policy.subjects.map((subject): SubjectUnit => {
      const atoms = subject.rules.map((rule): RuleAtom => {
        const peers = rule.peers === null ? null : onlyCidr(rule.peers) ? peer(rule.peers[0].cidr.cidr) : rule.peers.map(spec);
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
        const atom: RuleAtom = {
          dir: rule.dir === 'ingress' ? 0 : 1, deny: rule.verdict === 'deny', enforce: policy.mode === 'enforce', ruleId: 0, marks, l4: l4Keys(rule.l4),
          policy, subject: subject.selector, rule, peers,
        };
        policyIds.id(atom);
        return atom;
      });
      return { subject, atoms };
    });
    policyIds.commit();
    return { key, policy, subjects, cidrs, usesWorld, usesCluster, binaries };
  } catch (e) {
    for (const b of binaries) releaseMarks?.(b);
    for (const c of cidrs) identities.release(c);
    throw e;
  }
}

/** The unit's CIDR peers (not excepts): it re-resolves when a prefix inside one comes or goes. */
export function* cidrPeers(u: PolicyUnit): Generator<CidrIdentity> {
  for (const s of u.subjects) {
    for (const a of s.atoms) {
      if (a.peers === null) continue;
      if (isCidrIdentity(a.peers)) yield a.peers;
      else for (const p of a.peers) if (p.kind === 'cidr') yield p.ref;
    }
  }
}
