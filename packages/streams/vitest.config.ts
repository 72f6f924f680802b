import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('streams', { testTimeout: 60_000 });
