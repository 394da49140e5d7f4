// Linux capability numbers to names (include/uapi/linux/capability.h).
const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN',
  'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

const jsonCache = new Map<string, string>();

/** Capability set (low and high 32 bits) as a JSON array of names; sets repeat a lot, so cached. */
export function capsJson(lo: number, hi: number): string {
  const key = `${lo}:${hi}`;
  let s = jsonCache.get(key);
  if (s === undefined) {
    s = JSON.stringify(capNames(lo, hi));
    if (jsonCache.size < 4096) jsonCache.set(key, s);
  }
  return s;
}

export function capNames(lo: number, hi: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < CAP_NAMES.length; i++) {
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (set) out.push(CAP_NAMES[i]!);
  }
  return out;
}

/** Parses a /proc/PID/status capability line value ("000001ffffffffff"). */
export function parseCapHex(hex: string): [lo: number, hi: number] {
  const v = hex.trim().padStart(16, '0');
  return [parseInt(v.slice(8), 16) >>> 0, parseInt(v.slice(0, 8), 16) >>> 0];
}
