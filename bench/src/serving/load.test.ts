import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startEndpoint } from './endpoint.js';
import { checkLoopback, LoadGenerator, requestsOf } from './load.js';

const endpoint = await startEndpoint();
afterAll(() => endpoint.close());

describe('the W6 endpoint', () => {
  it('listens on 127.0.0.1 only, on a port the system chose', () => {
    const url = new URL(endpoint.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
  });

  it('answers any request with a little JSON', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request(`${endpoint.url}anything`, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body)).toMatchObject({ ok: true });
  });
});

describe('the W6 load generator', () => {
  it('talks to 127.0.0.1 and nothing else', () => {
    expect(() => checkLoopback('http://127.0.0.1:8080/')).not.toThrow();
    for (const elsewhere of [
      'http://localhost:8080/',
      'http://example.invalid/',
      'http://[::1]:80/',
    ]) {
      expect(() => checkLoopback(elsewhere)).toThrow(/only talks to 127\.0\.0\.1/);
    }
  });

  it('sends every request of its plan and reports the latencies of the answers', async () => {
    const generator = new LoadGenerator(endpoint.url);
    await generator.warmUp();
    const before = endpoint.answered();
    const plan = { requestsPerSec: 400, durationMs: 100 };
    const summary = await generator.run(plan);
    generator.close();
    expect(requestsOf(plan)).toBe(40);
    expect(summary).toMatchObject({ sent: 40, answered: 40, errors: 0 });
    expect(endpoint.answered() - before).toBe(40);
    expect(summary.p50Us).toBeGreaterThan(0);
    expect(summary.p99Us).toBeGreaterThanOrEqual(summary.p50Us);
    expect(summary.maxUs).toBeGreaterThanOrEqual(summary.p99Us);
  });

  it('counts requests that fail instead of hiding them', async () => {
    const gone = await startEndpoint();
    const generator = new LoadGenerator(gone.url);
    await gone.close();
    const summary = await generator.run({ requestsPerSec: 1000, durationMs: 5 });
    generator.close();
    expect(summary).toMatchObject({ sent: 5, answered: 0, errors: 5 });
    expect(summary.firstError).toMatch(/ECONNREFUSED/);
  });
});
