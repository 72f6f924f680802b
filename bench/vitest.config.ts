import { walnutProject } from '../vitest.shared.js';

export default walnutProject('bench', { testTimeout: 60_000 });
