import { walnutBuild } from '../../tsup.shared.js';

// Named entries keep every output directly under dist/ (native.ts finds the package root one
// level up from its bundle).
export default walnutBuild({
  index: 'src/index.ts',
  conformance: 'src/testing/conformance.ts',
  testing: 'src/testing/index.ts',
});
