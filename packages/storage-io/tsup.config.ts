import { defineConfig } from 'tsup';

export default defineConfig({
  // Named entries keep every output directly under dist/ (native.ts finds the package root
  // one level up from its bundle).
  entry: {
    index: 'src/index.ts',
    conformance: 'src/testing/conformance.ts',
    testing: 'src/testing/index.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
