import type { ContenderPlugin } from '../contender.js';

/**
 * W6's reference row: the same producers, schedule and HTTP load, with appends that resolve
 * at once and write nothing. Its event-loop delay is what the load alone costs on this
 * machine, the least any log can show; it is never durable, so never ranked.
 */
export const noLog: ContenderPlugin = {
  id: 'no-log',
  label: 'no log (the load alone)',
  workloads: ['W6'],
  async load() {
    return {
      versions: { node: process.version },
      notes: ['W6 reference: appends resolve at once and write nothing'],
      async openWriter() {
        return {
          append: () => undefined,
          sync: async () => undefined,
          appendDurable: async () => undefined,
          syncsCompleted: () => null,
          close: async () => undefined,
        };
      },
      async replay() {
        return { checksumsVerified: false };
      },
    };
  },
};
