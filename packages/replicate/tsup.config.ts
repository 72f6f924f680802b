import { walnutBuild } from '../../tsup.shared.js';

export default walnutBuild([
  'src/index.ts',
  'src/testing/index.ts',
  'src/testing/paused-primary-child.ts',
]);
