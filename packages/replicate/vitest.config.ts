import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('replicate', { testTimeout: 120_000 });
