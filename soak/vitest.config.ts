import { walnutProject } from '../vitest.shared.js';

/** Only the soak's unit tests (src/*.test.ts); the soak itself runs by `pnpm soak`, never here. */
export default walnutProject('soak', { include: ['src/**/*.test.ts'] });
