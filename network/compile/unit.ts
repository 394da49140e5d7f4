// A policy's compiled form that does not depend on which workloads or CIDRs exist: per subject, its
// rules as atoms (rule id, mode, marks, L4 keys) with the peers still to resolve. Built once per add.
import type { RuleInfo } from '../model.js';
import type { NetPolicy, NetRule, Peer, PolicySubject } from '../policy/types.js';
import { policyKey } from '../policy/types.js';
import type { Atom } from './fold.js';
import { l4Keys } from './l4.js';
import type { RuleIds } from './rule-ids.js';

export interface RuleAtom extends Atom {
  dir: 0 | 1;
  rule: NetRule;
}

export interface SubjectUnit {
  subject: PolicySubject;
  atoms: RuleAtom[];
}

export interface PolicyUnit {
  key: string;
  policy: NetPolicy;
  subjects: SubjectUnit[];
  /** Every prefix the rules name (CIDRs and excepts), canonical, once each. */
  cidrs: string[];
  /** Rules whose peers depend on the set of CIDR identities (a CIDR or the world entity). */
  dependsOnCidrs: boolean;
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

const peerKey = (p: Peer): string => JSON.stringify(p);

export function buildUnit(policy: NetPolicy, ruleIds: RuleIds, markBits: MarkBits | undefined, releaseMarks?: (b: string[]) => void): PolicyUnit {
  const key = policyKey(policy);
  const cidrs = new Set<string>();
  const binaries: string[][] = [];
  const ids: number[] = [];
  let dependsOnCidrs = false;
  try {
    const subjects = policy.subjects.map((subject): SubjectUnit => {
      const subjectKey = JSON.stringify(subject.selector);
      const atoms = subject.rules.map((rule): RuleAtom => {
        for (const p of rule.peers ?? []) {
          if (p.kind === 'cidr') {
            cidrs.add(p.cidr.cidr);
            for (const e of p.cidr.except) cidrs.add(e);
            dependsOnCidrs = true;
          } else if (p.kind === 'entity' && p.entity === 'world') dependsOnCidrs = true;
        }
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
        const content = `${key}\0${policy.mode}\0${rule.path}\0${subjectKey}\0${rule.verdict}\0${rule.dir}\0${(rule.peers ?? []).map(peerKey).join(',')}${rule.peers === null ? '*' : ''}\0${JSON.stringify(rule.l4)}\0${rule.binaries?.join(',') ?? ''}`;
        const info: Omit<RuleInfo, 'id'> = {
          policy: policy.name, namespace: policy.namespace, kind: policy.kind, path: rule.path,
          verdict: rule.verdict, mode: policy.mode, file: policy.source.file, line: rule.line,
        };
        const ruleId = ruleIds.id(content, info);
        ids.push(ruleId);
        return { dir: rule.dir === 'ingress' ? 0 : 1, deny: rule.verdict === 'deny', enforce: policy.mode === 'enforce', ruleId, marks, l4: l4Keys(rule.l4), rule };
      });
      return { subject, atoms };
    });
    return { key, policy, subjects, cidrs: [...cidrs], dependsOnCidrs, binaries, ruleIds: ids };
  } catch (e) {
    for (const b of binaries) releaseMarks?.(b);
    throw e;
  }
}
