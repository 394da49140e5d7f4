// Struct layouts from the BTF clang wrote into a built BPF object.
import { execFileSync } from 'node:child_process';

/** struct name → { member: byte offset, $size } from `bpftool btf dump format raw`. */
export function btfStructs(obj: string): Map<string, Record<string, number>> {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw'], { encoding: 'utf8' });
  const out = new Map<string, Record<string, number>>();
  let cur: Record<string, number> | null = null;
  for (const line of text.split('\n')) {
    const s = /^\[\d+\] STRUCT '(\w+)' size=(\d+)/.exec(line);
    if (s) {
      cur = { $size: Number(s[2]) };
      out.set(s[1]!, cur);
      continue;
    }
    const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (m && cur) cur[m[1]!] = Number(m[2]) / 8;
    else if (!line.startsWith('\t')) cur = null;
  }
  return out;
}
