// Peers given by address (CIDRs with except) and by entity.
import type { Node } from 'yaml';
import { unknownValue } from '../../tracing/policy/errors.js';
import { join, readEach, readObj, readStr, type Ctx, type Item } from '../../tracing/policy/reader.js';
import { contains, formatPrefix, parsePrefix } from '../identity/cidr.js';
import type { CidrPeer, Entity, Peer } from './types.js';

const ENTITIES: readonly Entity[] = ['world', 'host', 'cluster', 'all'];
/** Entities Cilium has that need things Palisade does not model (nodes, the API server, health endpoints). */
const CILIUM_ONLY_ENTITIES = ['remote-node', 'kube-apiserver', 'health', 'init', 'ingress', 'unmanaged', 'world-ipv4', 'world-ipv6', 'none'];

function readCidr(ctx: Ctx, node: Node | null, path: string): string | undefined {
  const s = readStr(ctx, node, path, true);
  if (s === undefined) return undefined;
  const p = parsePrefix(s);
  if (typeof p === 'string') {
    ctx.error(node, path, `${JSON.stringify(s)}: ${p}`);
    return undefined;
  }
  return formatPrefix(p);
}

/** A CIDR and its except list; each except prefix must lie inside the CIDR. */
export function readCidrWithExcept(ctx: Ctx, o: { cidr: Node | null; cidrPath: string; except: Item[] }): CidrPeer | undefined {
  const cidr = readCidr(ctx, o.cidr, o.cidrPath);
  const except: string[] = [];
  let ok = cidr !== undefined;
  for (const it of o.except) {
    const e = readCidr(ctx, it.node, it.path);
    if (e === undefined) {
      ok = false;
      continue;
    }
    if (cidr !== undefined) {
      const outer = parsePrefix(cidr);
      const inner = parsePrefix(e);
      if (typeof outer !== 'string' && typeof inner !== 'string' && !contains(outer, inner)) {
        ctx.error(it.node, it.path, `${e} is not inside ${cidr}: an except prefix must be part of the cidr`);
        ok = false;
        continue;
      }
    }
    except.push(e);
  }
  return ok ? { cidr: cidr!, except } : undefined;
}

/** Cilium toCIDR / fromCIDR: a list of CIDR strings. */
export function parseCidrList(ctx: Ctx, items: Item[]): Peer[] | undefined {
  return readEach(items, (it): Peer | undefined => {
    const c = readCidr(ctx, it.node, it.path);
    return c === undefined ? undefined : { kind: 'cidr', cidr: { cidr: c, except: [] } };
  });
}

/** Cilium toCIDRSet / fromCIDRSet: a list of {cidr, except}. */
export function parseCidrSet(ctx: Ctx, items: Item[]): Peer[] | undefined {
  return readEach(items, (it): Peer | undefined => {
    const o = readObj(ctx, it.node, it.path, ['cidr', 'except'], {
      cidrGroupRef: 'CiliumCIDRGroup resources are not implemented; list the CIDRs',
      cidrGroupSelector: 'CiliumCIDRGroup resources are not implemented; list the CIDRs',
    });
    if (!o || o.rejectedKeys > 0) return undefined;
    const cf = o.value('cidr', true);
    if (!cf) return undefined;
    const c = readCidrWithExcept(ctx, { cidr: cf.value, cidrPath: cf.path, except: o.seq('except') ?? [] });
    return c && { kind: 'cidr', cidr: c };
  });
}

/** NetworkPolicy ipBlock: {cidr, except}. */
export function parseIpBlock(ctx: Ctx, node: Node | null, path: string): Peer | undefined {
  const o = readObj(ctx, node, path, ['cidr', 'except']);
  if (!o) return undefined;
  const cf = o.value('cidr', true);
  if (!cf) return undefined;
  const c = readCidrWithExcept(ctx, { cidr: cf.value, cidrPath: join(path, 'cidr'), except: o.seq('except') ?? [] });
  return c && { kind: 'cidr', cidr: c };
}

export function parseEntities(ctx: Ctx, items: Item[]): Peer[] | undefined {
  return readEach(items, (it): Peer | undefined => {
    const s = readStr(ctx, it.node, it.path, true);
    if (s === undefined) return undefined;
    if ((ENTITIES as readonly string[]).includes(s)) return { kind: 'entity', entity: s as Entity };
    if (CILIUM_ONLY_ENTITIES.includes(s)) {
      ctx.error(it.node, it.path, `entity ${JSON.stringify(s)} is not supported by Palisade: expected one of ${ENTITIES.join(', ')}`);
    } else ctx.error(it.node, it.path, unknownValue('entity', s, ENTITIES));
    return undefined;
  });
}
