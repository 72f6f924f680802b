/**
 * `value` with every bigint (an LSN, say) as its decimal string, for JSON, which has no
 * bigint: `JSON.stringify` throws a TypeError on one, so a stats object or an error's details
 * logged as JSON would crash the logger. Arrays and plain objects are copied; anything else
 * is returned as it is.
 */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value !== 'object' || value === null) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) copy[key] = jsonSafe(field);
  return copy;
}

/**
 * `value`, given a `toJSON` that writes it through `jsonSafe`: for the objects users log or
 * send as they are (stats, a recovery report, segment descriptions), which hold LSNs. It is
 * not enumerable, so a spread, `Object.keys` or a test's `toEqual` sees only the fields.
 */
export function jsonReady<T extends object>(value: T): T {
  Object.defineProperty(value, 'toJSON', { value: ownFieldsJson, configurable: true });
  return value;
}

function ownFieldsJson(this: object): unknown {
  return jsonSafe({ ...this });
}
