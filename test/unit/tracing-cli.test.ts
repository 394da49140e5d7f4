import { afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { registerPolicy } from '../../agent/cli/policy.js';

const V = 'test/fixtures/policies/valid';
const I = 'test/fixtures/policies/invalid';

async function run(...args: string[]): Promise<{ out: string; code: number | undefined }> {
  const program = new Command('palisade').exitOverride();
  registerPolicy(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  try {
    await program.parseAsync(['node', 'palisade', 'policy', 'validate', ...args]);
  } finally {
    log.mockRestore();
  }
  const code = process.exitCode === undefined ? undefined : Number(process.exitCode);
  return { out: lines.join('\n'), code };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('palisade policy validate', () => {
  it('prints ok per valid file and a summary, exit 0', async () => {
    const { out, code } = await run(`${V}/file-monitoring.yaml`, `${V}/namespaced-macros.yaml`);
    expect(out).toBe(
      [
        `ok  ${V}/file-monitoring.yaml: 2 policies (file-monitoring, openat-etc)`,
        `ok  ${V}/namespaced-macros.yaml: 1 policy (payments/dup-watch)`,
        '2 files valid, 3 policies',
      ].join('\n'),
    );
    expect(code).toBeUndefined();
  });

  it('prints every error of a bad file, exit 1', async () => {
    const { out, code } = await run(`${V}/fd-install.yaml`, `${I}/many-errors.yaml`, '/nonexistent.yaml');
    const lines = out.split('\n');
    expect(lines[0]).toBe(`ok  ${V}/fd-install.yaml: 1 policy (fd-install)`);
    expect(lines.filter((l) => l.startsWith(`${I}/many-errors.yaml:`))).toHaveLength(6);
    expect(lines).toContain('/nonexistent.yaml: cannot read file (ENOENT)');
    expect(lines.at(-1)).toBe('2 of 3 files invalid (7 errors)');
    expect(code).toBe(1);
  });

  it('takes a directory and gives JSON with -o json', async () => {
    const { out, code } = await run('-o', 'json', I);
    const r = JSON.parse(out) as { valid: boolean; files: Array<{ file: string; valid: boolean; policies: Array<{ name: string }>; errors: Array<{ line: number; path: string }> }> };
    expect(r.valid).toBe(false);
    expect(r.files.map((f) => f.file)).toEqual([`${I}/many-errors.yaml`, `${I}/tetragon-unsupported.yaml`]);
    expect(r.files[0]!.policies.map((p) => p.name)).toEqual(['still-good']);
    expect(r.files[0]!.errors[0]).toMatchObject({ line: 8, column: 3, path: 'spec.kprobe' });
    expect(code).toBe(1);
  });
});
