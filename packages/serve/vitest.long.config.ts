import { longTier } from '../../vitest.shared.js';
import project from './vitest.config.js';

export default longTier(project);
