// Decoders of kernel-object arguments (tracing.h pal_cred_arg, capability numbers) into Tetragon's JSON.
import { describe, expect, it } from 'vitest';
import { capabilityJson, credOf, intText } from '../../agent/pipeline/hook-args.js';
import { CRED_ARG } from '../../tracing/compile/layout.js';

describe('hook argument decoders', () => {
  it('reads a cred blob as process_credentials_arg with capability names', () => {
    const b = Buffer.alloc(8 + CRED_ARG.$size);
    const at = 8;
    const ids = { uid: 1000, gid: 1001, suid: 1002, sgid: 1003, euid: 0, egid: 1005, fsuid: 1006, fsgid: 1007, securebits: 0 } as const;
    for (const [k, v] of Object.entries(ids)) b.writeUInt32LE(v, at + CRED_ARG[k as keyof typeof ids]);
    b.writeBigUInt64LE((1n << 21n) | 1n, at + CRED_ARG.cap_effective); // CAP_SYS_ADMIN, CAP_CHOWN
    b.writeBigUInt64LE(1n << 40n, at + CRED_ARG.cap_permitted); // CAP_CHECKPOINT_RESTORE
    const { json, text } = credOf(b, at);
    const v = JSON.parse(json).process_credentials_arg;
    expect(v).toMatchObject({ uid: 1000, gid: 1001, euid: 0, egid: 1005, suid: 1002, sgid: 1003, fsuid: 1006, fsgid: 1007 });
    expect(v.caps).toEqual({ effective: ['CAP_CHOWN', 'CAP_SYS_ADMIN'], permitted: ['CAP_CHECKPOINT_RESTORE'], inheritable: [] });
    expect(text).toBe('uid=1000 euid=0');
  });

  it('names capability numbers', () => {
    expect(JSON.parse(capabilityJson(21))).toEqual({ capability_arg: { value: 21, name: 'CAP_SYS_ADMIN' } });
    expect(intText('capability', 12, 0)).toBe('CAP_NET_ADMIN');
  });
});
