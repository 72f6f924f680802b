import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('serve', { testTimeout: 30_000 });
