import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('example-replicated-failover', { testTimeout: 120_000 });
