import { walnutProject } from '../../vitest.shared.js';

export default walnutProject('portable');
