// JSON lines into a file with size-based rotation: path, path.1 (newest) … path.N.
// Rotation happens between lines, with synchronous renames, so no line is split or lost.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { BufferedSink, type SinkFormat } from './sink.js';

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
    const b = Buffer.from(lines.join(''));
    this.writeBytes(b, 0, b.length);
  }

  /** Writes buf[start, end): complete lines, each ending in \n. Rotates between lines, never inside one. */
  writeBytes(buf: Buffer, start: number, end: number): void {
    const max = this.maxBytes;
    // The common case: the whole batch fits. Only a batch that crosses the limit is split by line.
    if (max === 0 || this.size + (end - start) <= max) {
      this.writeRaw(buf, start, end);
      return;
    }
    let part = start; // the lines from `part` to `line` go into the current file
    for (let line = start; line < end; ) {
      const nl = buf.indexOf(10, line);
      const next = nl < 0 || nl >= end ? end : nl + 1;
      if (this.size + (next - part) > max && this.size + (line - part) > 0) {
        this.writeRaw(buf, part, line);
        this.rotate();
        part = line;
      }
      line = next;
    }
    this.writeRaw(buf, part, end);
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

  private writeRaw(buf: Buffer, start: number, end: number): void {
    // Short writes (rare on files) are retried.
    for (let off = start; off < end; ) off += writeSync(this.fd, buf, off, end - off);
    this.size += end - start;
  }
}

export class FileSink extends BufferedSink {
  private readonly file: RotatingFile;

  constructor(path: string, opts: RotatingFileOptions, format: SinkFormat) {
    super(`file:${path}`, format);
    this.file = new RotatingFile(path, opts);
  }

  flush(): void {
    const b = this.bytes;
    if (b.lines > 0) {
      const { lines, events } = b;
      try {
        b.take((buf, start, end) => this.file.writeBytes(buf, start, end));
        this.written += lines;
      } catch {
        // Disk full or gone: count the loss, keep the agent running.
        b.clear();
        this.drops.add(events);
      }
    }
    if (this.pending.length === 0) return;
    const { lines, events } = this.takePending();
    try {
      this.file.writeLines(lines);
      this.written += lines.length;
    } catch {
      this.drops.add(events);
    }
  }

  async close(): Promise<void> {
    this.flush();
    this.file.close();
  }
}
