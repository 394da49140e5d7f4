import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RotatingFile } from '../../agent/export/file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('RotatingFile', () => {
  it('spreads lines over rotated files complete and in order, keeping maxFiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pal-rot-'));
    dirs.push(dir);
    const path = join(dir, 'events.log');
    const f = new RotatingFile(path, { maxBytes: 1000, maxFiles: 50 });
    let n = 0;
    for (let batch = 0; batch < 40; batch++) {
      const lines: string[] = [];
      for (let i = 0; i < 7; i++) lines.push(JSON.stringify({ seq: n++, pad: 'x'.repeat((n * 7) % 50) }) + '\n');
      f.writeLines(lines);
    }
    f.close();
    const files = readdirSync(dir).sort((a, b) => (b === 'events.log' ? -1 : a === 'events.log' ? 1 : Number(b.split('.').pop()) - Number(a.split('.').pop())));
    expect(files.length).toBeGreaterThan(5);
    const seqs: number[] = [];
    for (const name of files) {
      const text = readFileSync(join(dir, name), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1000);
      expect(text.endsWith('\n')).toBe(true);
      for (const line of text.trimEnd().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq);
    }
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('rotates inside a byte range between its lines, never inside one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pal-rot-'));
    dirs.push(dir);
    const f = new RotatingFile(join(dir, 'e.log'), { maxBytes: 12, maxFiles: 5 });
    const buf = Buffer.from('skip\naaaa\nbbbbb\ncc\ndddddddddddd\nrest');
    f.writeBytes(buf, 5, buf.length - 4); // from "aaaa" to the end of "ddd…"
    f.close();
    expect(['e.log.2', 'e.log.1', 'e.log'].map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(['aaaa\nbbbbb\n', 'cc\n', 'dddddddddddd\n']);
  });

  it('deletes the oldest beyond maxFiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pal-rot-'));
    dirs.push(dir);
    const f = new RotatingFile(join(dir, 'e.log'), { maxBytes: 10, maxFiles: 2 });
    for (let i = 0; i < 10; i++) f.writeLines([`line-${i}\n`]);
    f.close();
    expect(readdirSync(dir).sort()).toEqual(['e.log', 'e.log.1', 'e.log.2']);
    expect(readFileSync(join(dir, 'e.log'), 'utf8')).toBe('line-9\n');
    expect(readFileSync(join(dir, 'e.log.2'), 'utf8')).toBe('line-7\n');
  });

  it('never rotates a device: /dev/null stays /dev/null', () => {
    const f = new RotatingFile('/dev/null', { maxBytes: 10, maxFiles: 2 });
    for (let i = 0; i < 10; i++) f.writeLines([`line-${i}\n`]);
    f.close();
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(existsSync('/dev/null.1')).toBe(false);
  });
});
