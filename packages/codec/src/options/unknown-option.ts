import { WalError, WalErrorCode } from '../errors/errors.js';

/**
 * The `WAL_BAD_ARGUMENT` for an options key that is none of `names`: it names the likely
 * intended one (a typo within two edits, case aside) and every option of `where`.
 */
export function unknownOption(
  key: string,
  names: readonly string[],
  where: string,
  what: 'an option' | 'a field' = 'an option',
): WalError {
  const guess = closest(key, names);
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${JSON.stringify(key)} is not ${what} of ${where}${guess ? ` — did you mean ${guess}?` : ''} (the ${what === 'a field' ? 'fields' : 'options'} are ${names.join(', ')})`,
    { details: { option: key } },
  );
}

/** WAL_BAD_ARGUMENT (`unknownOption`) for the first key of `options` that is none of `names`. */
export function checkOptionKeys(options: object, names: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!names.includes(key)) throw unknownOption(key, names, where);
  }
}

/**
 * The known name within two edits of `key` (case aside), if one is; else the one name whose
 * words hold all of `key`'s or lie all within them, as the same option is called in another
 * layer (`segmentSize` for `segmentTargetSize`); else the one name that begins `key` or that
 * `key` begins (`meta` for `metadata`).
 */
function closest(key: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  const keyWords = wordsOf(key);
  const related = names.filter((name) => {
    const nameWords = wordsOf(name);
    return (
      keyWords.length > 1 &&
      nameWords.length > 1 &&
      (keyWords.every((w) => nameWords.includes(w)) || nameWords.every((w) => keyWords.includes(w)))
    );
  });
  if (related.length === 1) return related[0];
  // A name spelt out in full where the short one is used (`metadata` for `meta`), or cut short.
  const lower = key.toLowerCase();
  const prefixes = names.filter((name) => {
    const n = name.toLowerCase();
    return Math.min(n.length, lower.length) >= 3 && (lower.startsWith(n) || n.startsWith(lower));
  });
  return prefixes.length === 1 ? prefixes[0] : undefined;
}

/** The lower-cased words of a camelCase or snake_case name. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[\s_-]+/)
    .filter((w) => w.length > 0);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
