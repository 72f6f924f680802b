import { defineConfig } from 'vitest/config';
import short from './vitest.config.js';
import { TIER_VARIABLE } from './vitest.shared.js';

/**
 * `pnpm test:property`: every project's `*.property.test.ts` files, which `pnpm test` leaves
 * out (decision 0007). The projects read the tier from the environment when their configs
 * load, after this file.
 */
process.env[TIER_VARIABLE] = 'property';

export default defineConfig(short);
