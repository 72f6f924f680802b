/**
 * A number an addon wrote into a Float64Array (how the addons hand back offsets, counts and
 * results without allocating), as an int32 when it is one. Read from the array it is a
 * double, and V8 keeps a double in a field as a heap number: the field, and every position
 * computed from it, then stays boxed, and optimised code that expected small integers
 * deoptimises. In the mapped replay that cost ~15 ms per million records (decision 0405,
 * addendum). Any other number (fractional, negative zero, beyond 32 bits) comes back as it is.
 * The offsets, stop codes and I/O results the addons hand back this way go through it.
 */
export function addonNumber(x: number): number {
  const small = x | 0;
  return small === x && (small !== 0 || 1 / x > 0) ? small : x;
}
