import { ioUringAvailability } from '../backends/io-uring.js';

/** Whether tests may use io_uring here, decided once per process. */
export interface IoUringForTests {
  readonly available: boolean;
  /** Why io_uring is not usable here, or how that was established. */
  readonly reason: string;
  /** False when io_uring tests run; else why they are skipped (pass it to `skipIf`/`skip`). */
  readonly skip: string | false;
  /** `title`, with the reason appended when the suite is skipped, so a skip says why. */
  title(title: string): string;
}

/** The environment variable that turns "io_uring unavailable: skip" into a failure (CI). */
export const REQUIRE_IO_URING = 'WALNUT_REQUIRE_IO_URING';

let decided: { available: boolean; reason: string } | undefined;

/**
 * Decides once (by creating and destroying a real ring) whether io_uring tests can run
 * here, for any test runner. When they cannot and `WALNUT_REQUIRE_IO_URING=1` is set, it
 * throws instead of answering, so the test file fails rather than skipping silently on a
 * machine that was meant to test io_uring.
 */
export function ioUringForTests(): IoUringForTests {
  decided ??= ioUringAvailability();
  const { available, reason } = decided;
  if (!available && process.env[REQUIRE_IO_URING] === '1') {
    throw new Error(
      `${REQUIRE_IO_URING}=1, but io_uring is not usable here: ${reason}. Unset it to let io_uring tests skip.`,
    );
  }
  const skip = available ? false : `io_uring unavailable: ${reason}`;
  return {
    available,
    reason,
    skip,
    title: (title) => (skip === false ? title : `${title} (skipped: ${skip})`),
  };
}
