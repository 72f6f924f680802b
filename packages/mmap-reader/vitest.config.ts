import { mergeConfig } from 'vitest/config';
import { walnutProject } from '../../vitest.shared.js';

// --expose-gc lets gc.test.ts prove that views keep their mapping alive after the reader is collected.
export default mergeConfig(walnutProject('mmap-reader'), {
  test: { poolOptions: { forks: { execArgv: ['--expose-gc'] } } },
});
