import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { LoadPlan, LoadSummary } from './load.js';
import { type GoMessage, type LoadMessage, servePlans } from './load-process.js';

/** A child's IPC side without a child: what it sends is kept, what it is sent is emitted. */
class FakePort extends EventEmitter {
  readonly sent: LoadMessage[] = [];
  send(message: LoadMessage): void {
    this.sent.push(message);
  }
  go(plan: LoadPlan): void {
    this.emit('message', { kind: 'go', plan } satisfies GoMessage);
  }
}

const summary = (sent: number): LoadSummary => ({
  sent,
  answered: sent,
  errors: 0,
  p50Us: 1,
  p99Us: 2,
  maxUs: 3,
});

describe('the load-generator process', () => {
  it('says ready, then answers every plan it is sent (the warm-up, then the measured run)', async () => {
    const port = new FakePort();
    const plans: LoadPlan[] = [];
    servePlans(
      {
        run: async (plan) => {
          plans.push(plan);
          return summary(plans.length);
        },
      },
      port,
    );
    expect(port.sent).toEqual([{ kind: 'ready' }]);
    port.go({ requestsPerSec: 100, durationMs: 10 });
    port.go({ requestsPerSec: 100, durationMs: 20 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(plans.map((plan) => plan.durationMs)).toEqual([10, 20]);
    expect(port.sent).toEqual([
      { kind: 'ready' },
      { kind: 'done', summary: summary(1) },
      { kind: 'done', summary: summary(2) },
    ]);
  });

  it('answers a plan that failed with the reason', async () => {
    const port = new FakePort();
    servePlans({ run: async () => Promise.reject(new Error('no sockets')) }, port);
    port.go({ requestsPerSec: 100, durationMs: 10 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(port.sent.at(-1)).toEqual({ kind: 'failed', error: 'no sockets' });
  });
});
