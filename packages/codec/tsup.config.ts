import { walnutBuild } from '../../tsup.shared.js';

// Named entries keep every output directly under dist/, where the addon loader looks one
// level up for the package root.
export default walnutBuild({ index: 'src/index.ts', testing: 'src/testing/index.ts' });
