import { isUtf8 } from 'node:buffer';
import { badRequest } from './errors.js';

/**
 * The messages of a JSON-mode body (PROTOCOL.md 9.1): a top-level array is flattened one
 * level, anything else is one message. Each message is kept as JSON text, so a read joins
 * them into an array without parsing them again: a lone message in UTF-8 as sent (the parse
 * only checks it), any other as its compact text.
 */
export function jsonMessages(body: Buffer, allowEmpty: boolean): Buffer[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`the body is not valid JSON: ${(error as Error).message}`);
  }
  // Writing a lone message out again cost 4 % of the server's CPU per small POST. Bytes that
  // are not UTF-8 parsed as U+FFFD: such a message is written out again, so a read is UTF-8.
  if (!Array.isArray(value) && isUtf8(body)) return [body];
  const messages = Array.isArray(value) ? value : [value];
  if (messages.length === 0 && !allowEmpty) {
    throw badRequest('an empty JSON array appends nothing; send at least one message');
  }
  return messages.map((m) => Buffer.from(JSON.stringify(m), 'utf8'));
}

/** A JSON-mode read's body: the messages as one array. */
export function jsonArray(payloads: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [OPEN];
  payloads.forEach((p, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(p);
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');
