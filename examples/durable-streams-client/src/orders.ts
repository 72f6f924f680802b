import { DurableStream, IdempotentProducer } from '@durable-streams/client';
import { serve } from '@walnut/serve';

export interface Order {
  readonly id: number;
  readonly item: string;
}

/**
 * `@durable-streams/client`, unchanged from npm, against `walnut serve`: creates a JSON
 * stream, appends with an idempotent producer (Producer-Id/Epoch/Seq on every batch), reads
 * it back, tails it live while more orders arrive, and ends when the producer closes the
 * stream. Resolves with what each step saw.
 */
export async function runOrders(dir: string, log: (line: string) => void): Promise<void> {
  const server = await serve(dir);
  try {
    const url = `${server.url}/v1/stream/orders`;
    const stream = await DurableStream.create({ url, contentType: 'application/json' });
    const producer = new IdempotentProducer(stream, 'checkout-1', { lingerMs: 0 });
    producer.append(JSON.stringify({ id: 1, item: 'walnuts' }));
    producer.append(JSON.stringify({ id: 2, item: 'pecans' }));
    await producer.flush();

    const catchUp = await stream.stream<Order>({ live: false });
    log(`read: ${(await catchUp.json()).map((o) => o.item).join(', ')}`);

    // A live tail from the start: it sees the two orders, then each new one as it lands,
    // and ends at the close (the server's "stream closed" signal).
    const live = await stream.stream<Order>({ offset: '-1', live: 'sse' });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      live.subscribeJson((batch) => {
        for (const order of batch.items) seen.push(order.item);
        if (batch.streamClosed) resolve();
      });
    });
    producer.append(JSON.stringify({ id: 3, item: 'almonds' }));
    await producer.close(JSON.stringify({ id: 4, item: 'hazelnuts' }));
    await ended;
    log(`tail: ${seen.join(', ')}`);
    const head = await stream.head();
    log(head.exists ? `closed at ${head.offset}` : 'the stream is gone');
  } finally {
    await server.close();
  }
}
