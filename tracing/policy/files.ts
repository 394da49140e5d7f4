// Which files of a policy folder load: the *.yaml and *.yml regular files, in name order.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function policyFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}
