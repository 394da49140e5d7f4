// JSON-lines input for `palisade events` and `palisade observe`: the agent's stream, a file, or
// stdin ('-'); each line parsed once, a line that is not JSON reported with its number and skipped.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { CliError } from './errors.js';

/** A file (or '-' for stdin), opened so that a missing or unreadable file is a CliError now. */
export async function openJsonLinesFile(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  const input = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (e: NodeJS.ErrnoException) => reject(new CliError(`${file}: cannot read (${e.code ?? e.message})`)));
  });
  return input;
}

/** Each non-empty line and its JSON value; `source` names the input in the warning for a bad line. */
export async function* jsonLines(input: Readable, source: string): AsyncGenerator<{ line: string; value: unknown }> {
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      process.stderr.write(`palisade: ${source}:${lineNo}: not a JSON event, skipped\n`);
      continue;
    }
    yield { line, value };
  }
}
