import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * One owner for a frame's body (issue #62): `@walnut/codec` turns a body into records
 * (`frameRecords`), reads its LSNs (`frameRecordCount`, `frameLsnAt`, `frameLsns`) and walks
 * a file's frames (`walkFrameChunks`, `FrameScanner`). Outside codec, code that reads logs
 * names none of the body's layout: not its kinds, flags or fixed sizes, not the per-kind
 * decoders, and it decrypts no body itself. A change of the body's encoding (compression)
 * then reaches every reader through codec. Tests and test helpers may build and damage
 * bodies byte by byte, so they are not held to it.
 */
const LAYOUT = [
  'BodyKind',
  'RecordFlag',
  'BatchFlag',
  'RECORD_FLAGS_MASK',
  'RECORD_BODY_FIXED',
  'BATCH_BODY_FIXED',
  'BATCH_ENTRY_FIXED',
  'CORE_ENTRY_FIXED',
  'TIME_FIELD_SIZE',
  'decodeRecordBody',
  'decodeBatchBody',
  'decodeRecordAt',
  'decodeBatchAt',
  'decodeCoreEntryAt',
];
const CODEC_IMPORT = /\bimport\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@walnut\/codec'/g;
/** A body decrypted by hand: `cipher.decryptBody(...)`. */
const OWN_DECRYPTION = /\.decryptBody\s*\(/;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'build', 'prebuilds', 'test', 'testing']);

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(?:ts|mts|mjs|js)$/.test(entry.name) && !/\.test\.[mc]?[jt]s$/.test(entry.name))
      yield path;
  }
}

/** The layout names `text` imports from codec, and a note when it decrypts a body itself. */
function bodyReads(text: string): string[] {
  const found: string[] = [];
  for (const [, names] of text.matchAll(CODEC_IMPORT)) {
    for (const name of names!.split(',')) {
      const bare = name
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]!;
      if (LAYOUT.includes(bare)) found.push(bare);
    }
  }
  if (OWN_DECRYPTION.test(text)) found.push('decryptBody');
  return found;
}

describe("a frame body's layout", () => {
  it('is read by codec alone: no other package names it', () => {
    const found: string[] = [];
    for (const top of ['packages', 'examples', 'bench', 'soak']) {
      for (const file of sources(join(root, top))) {
        if (file.startsWith(join(root, 'packages', 'codec') + sep)) continue;
        for (const name of bodyReads(readFileSync(file, 'utf8')))
          found.push(`${relative(root, file)}: ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the check finds each way a reader took a body apart before', () => {
    const code = [
      "import { BodyKind, FrameScanner } from '@walnut/codec';",
      "import {\n  type FrameCipher,\n  decodeBatchBody as batch,\n} from '@walnut/codec';",
      "import type { RECORD_BODY_FIXED } from '@walnut/codec';",
      'const plain = cipher.decryptBody(body, body.length);',
    ].join('\n');
    expect(bodyReads(code)).toEqual([
      'BodyKind',
      'decodeBatchBody',
      'RECORD_BODY_FIXED',
      'decryptBody',
    ]);
    expect(bodyReads("import { frameRecords, walkFrameChunks } from '@walnut/codec';")).toEqual([]);
  });
});
