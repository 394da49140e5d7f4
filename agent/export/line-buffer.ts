// A growable byte buffer that lines are written into as UTF-8: bytes, strings and numbers, with no
// intermediate strings for the numbers. Lines already handed out keep pointing at the old buffer
// when it grows.

/** Node's own encoders: on every Buffer, missing from its typings; write() minus argument parsing. */
interface RawBuffer extends Buffer {
  utf8Write(s: string, offset: number): number;
}

export class LineBuffer {
  /** What was written so far: buf[0, pos). Replaced by a bigger one when a write does not fit. */
  buf: Buffer;
  pos = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  reset(): void {
    this.pos = 0;
  }

  byte(c: number): void {
    if (this.pos === this.buf.length) this.grow(1);
    this.buf[this.pos++] = c;
  }

  bytes(b: Buffer): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** buf[from, to) of another buffer. */
  range(src: Buffer, from: number, to: number): void {
    if (this.pos + to - from > this.buf.length) this.grow(to - from);
    this.pos += src.copy(this.buf, this.pos, from, to);
  }

  text(s: string): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes.
    if (this.pos + 3 * s.length > this.buf.length) this.grow(3 * s.length);
    this.pos += (this.buf as RawBuffer).utf8Write(s, this.pos);
  }

  /** A safe integer in decimal. */
  int(v: number): void {
    if (this.pos + 17 > this.buf.length) this.grow(17);
    const b = this.buf;
    if (v < 0) {
      b[this.pos++] = 45; // -
      v = -v;
    }
    if (v < 10) {
      b[this.pos++] = 48 + v;
      return;
    }
    let digits = 2;
    for (let t = 100; t <= v; t *= 10) digits++;
    let i = this.pos + digits;
    this.pos = i;
    // Small integer arithmetic while it fits: V8 divides those by multiplying.
    for (; v > 0x7fffffff; v = Math.floor(v / 10)) b[--i] = 48 + (v % 10);
    while (v > 0) {
      const q = (v / 10) | 0;
      b[--i] = 48 + v - q * 10;
      v = q;
    }
  }

  /** Lines already handed to sinks stay valid in the old buffer until their next flush. */
  protected grow(need: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.pos + need));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}
