import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Refusal } from './command-group.js';
import type { CliIo } from './output.js';

/**
 * The whole of `stream` as text, refused once it holds more than `limit` bytes (what is past that is not
 * read). `name` says where it came from in the refusals, `tooLarge` what the limit is.
 */
async function readCapped(stream: Readable, name: string, limit: number, tooLarge: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += bytes.length;
      if (size > limit) {
        throw new Refusal(`${name} holds more than ${limit.toLocaleString('en-US')} bytes; ${tooLarge}`);
      }
      chunks.push(bytes);
    }
  } catch (error) {
    if (error instanceof Refusal) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (error as Error).message;
    throw new Refusal(`cannot read ${name}: ${why}`);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether JSON.parse finds a fault in `text` before its end (a text cut short is not at fault yet). */
function faultBeforeEnd(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('Unexpected end of JSON input')) return false;
    const position = /at position (\d+)/.exec(message)?.[1];
    return position === undefined || Number(position) < text.length;
  }
}

/**
 * Where JSON.parse stopped in `text`. Its message gives the position for most faults but not for an
 * unexpected token ("Unexpected token '}', …"); then it is found as the shortest start of the text that
 * the parser already refuses (a start that is only cut short parses as far as it goes).
 */
function faultPosition(text: string, message: string): number {
  const given = /at position (\d+)/.exec(message)?.[1];
  if (given !== undefined) return Number(given);
  if (message.startsWith('Unexpected end of JSON input')) return text.length;
  let low = 0;
  let high = text.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (faultBeforeEnd(text.slice(0, middle + 1))) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * JSON.parse's message without the excerpt of the text it quotes (the file may hold secrets), with where
 * it stopped as a line and column.
 */
export function jsonProblem(error: unknown, text: string): string {
  const raw = error instanceof Error ? error.message : String(error);
  const message = raw
    .replace(/, (?:\.\.\.)?".*is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '');
  const before = text.slice(0, faultPosition(text, raw)).split('\n');
  return `${message} at line ${before.length}, column ${[...(before.at(-1) ?? '')].length + 1}`;
}

/**
 * JSON from a file, or standard input when `file` is undefined; a Refusal when it cannot be read, is larger
 * than `limit` bytes (`tooLarge` says what the limit is), is empty (`holds` says what it should hold) or is
 * not JSON.
 */
export async function readJsonInput(
  file: string | undefined,
  options: { io: CliIo; limit: number; tooLarge: string; holds: string },
): Promise<unknown> {
  const name = file ?? 'standard input';
  const stream = file === undefined ? (options.io.stdin as Readable) : createReadStream(file);
  // A byte-order mark, as some editors write one, is not part of the JSON.
  const text = (await readCapped(stream, name, options.limit, options.tooLarge)).replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new Refusal(`${name} is empty; it must hold ${options.holds}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Refusal(`${name} is not JSON: ${jsonProblem(error, text)}`);
  }
}
