import * as wal from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { isWalError, WalError, WalErrorCode } from './index.js';

describe('the package entry', () => {
  it("exports @walnut/wal's error class, codes and guard, the same objects", () => {
    expect(WalError).toBe(wal.WalError);
    expect(WalErrorCode).toBe(wal.WalErrorCode);
    expect(isWalError).toBe(wal.isWalError);
  });
});
