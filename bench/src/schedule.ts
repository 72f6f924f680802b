/**
 * The order in which the repetitions of several contenders run (decision 0704): round by
 * round, every contender once per round, each round starting one contender later than the
 * one before, so that no contender always runs first (straight after another workload) or
 * always directly after the same neighbour.
 */

export interface Slot<T> {
  /** 1-based repetition. */
  readonly rep: number;
  readonly contender: T;
}

export function interleavedRounds<T>(repetitions: number, contenders: readonly T[]): Slot<T>[] {
  const slots: Slot<T>[] = [];
  const n = contenders.length;
  for (let rep = 1; rep <= repetitions; rep++) {
    for (let i = 0; i < n; i++) {
      slots.push({ rep, contender: contenders[(rep - 1 + i) % n]! });
    }
  }
  return slots;
}
