// JSON lines into a file with size-based rotation: path, path.1 (newest) … path.N.
// Rotation happens between lines, with synchronous renames, so no line is split or lost.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PalisadeEvent } from '../pipeline/events.js';
import { DropCounter, type Sink, type SinkStats } from './sink.js';

export interface RotatingFileOptions {
  /** Rotate when the file would grow past this many bytes (0 = never). */
  maxBytes: number;
  /** Rotated files kept besides the live one. */
  maxFiles: number;
}

export class RotatingFile {
  private fd: number;
  private size: number;

  private readonly maxBytes: number;

  constructor(readonly path: string, private readonly opts: RotatingFileOptions) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a', 0o640);
    const st = fstatSync(this.fd);
    this.size = st.size;
    // Never rotate a device or a pipe (--export-file /dev/null must not rename /dev/null).
    this.maxBytes = st.isFile() ? opts.maxBytes : 0;
  }

  /** Writes complete lines (each ending in \n), rotating between them when the next would not fit. */
  writeLines(lines: readonly string[]): void {
    const chunk = lines.join('');
    const bytes = Buffer.byteLength(chunk);
    const max = this.maxBytes;
    // The common case: the whole batch fits. Only a batch that crosses the limit is split by line.
    if (max === 0 || this.size + bytes <= max) {
      this.writeRaw(chunk, bytes);
      return;
    }
    let part = '';
    let partBytes = 0;
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (this.size + partBytes + n > max && this.size + partBytes > 0) {
        if (part !== '') this.writeRaw(part, partBytes);
        part = '';
        partBytes = 0;
        this.rotate();
      }
      part += line;
      partBytes += n;
    }
    if (part !== '') this.writeRaw(part, partBytes);
  }

  rotate(): void {
    closeSync(this.fd);
    const keep = Math.max(0, this.opts.maxFiles);
    if (keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }

  private writeRaw(s: string, bytes: number): void {
    // writeSync takes the string as it is: no Buffer copy. Short writes (rare on files) are retried.
    let written = writeSync(this.fd, s);
    if (written < bytes) {
      const rest = Buffer.from(s).subarray(written);
      for (let off = 0; off < rest.length; ) off += writeSync(this.fd, rest, off);
      written = bytes;
    }
    this.size += written;
  }
}

export class FileSink implements Sink {
  readonly name: string;
  private readonly file: RotatingFile;
  private pending: string[] = [];
  private pendingEvents = 0;
  private written = 0;
  private readonly drops = new DropCounter();

  constructor(path: string, opts: RotatingFileOptions, private readonly format: (ev: PalisadeEvent, json: string) => string) {
    this.name = `file:${path}`;
    this.file = new RotatingFile(path, opts);
  }

  write(ev: PalisadeEvent, json: string): void {
    this.pending.push(this.format(ev, json) + '\n');
    this.pendingEvents += DropCounter.events(ev);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    const events = this.pendingEvents;
    this.pending = [];
    this.pendingEvents = 0;
    try {
      this.file.writeLines(lines);
      this.written += lines.length;
    } catch {
      // Disk full or gone: count the loss, keep the agent running.
      this.drops.add(events);
    }
  }

  takeDropped(): number {
    return this.drops.take();
  }

  stats(): SinkStats {
    return { name: this.name, written: this.written, dropped: this.drops.total };
  }

  async close(): Promise<void> {
    this.flush();
    this.file.close();
  }
}
