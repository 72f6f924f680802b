import { walnutProject } from '../vitest.shared.js';

/** Checks of the whole repository (every package at once), not of one package. */
export default walnutProject('repo', { include: ['*.test.ts'] });
