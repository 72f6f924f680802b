import { walnutBuild } from '../../tsup.shared.js';

export default walnutBuild(['src/index.ts']);
