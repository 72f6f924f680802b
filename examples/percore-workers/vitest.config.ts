import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('example-percore-workers', { testTimeout: 60_000 });
