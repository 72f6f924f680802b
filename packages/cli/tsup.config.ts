import { walnutBuild } from '../../tsup.shared.js';

// Only the library entry is public API; the binary and the demo's child need no declarations.
export default walnutBuild(
  { index: 'src/index.ts', cli: 'src/cli.ts', 'demo-writer': 'src/demo/writer-child.ts' },
  { entry: { index: 'src/index.ts' } },
);
