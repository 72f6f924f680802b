import { WalError, WalErrorCode } from './errors.js';

/**
 * The `WAL_BAD_ARGUMENT` for an options key that is none of `names`: it names the likely
 * intended one (a typo within two edits, case aside) and every option of `where`.
 */
export function unknownOption(key: string, names: readonly string[], where: string): WalError {
  const guess = closest(key, names);
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${JSON.stringify(key)} is not an option of ${where}${guess ? ` — did you mean ${guess}?` : ''} (the options are ${names.join(', ')})`,
    { details: { option: key } },
  );
}

/** The known name within two edits of `key` (case aside), if one is. */
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
  return best;
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
