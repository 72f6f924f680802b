import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('example-custom-storage-io');
