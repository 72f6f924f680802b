import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('example-durable-streams-client');
