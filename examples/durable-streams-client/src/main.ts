import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOrders } from './orders.js';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'walnut-orders-'));
await runOrders(dir, (line) => console.log(line));
console.log(`the log is in ${dir}`);
