import { describe, expect, it } from 'vitest';
import { Fencing } from './fencing.js';

describe('fencing', () => {
  it('report the LSNs only this primary holds', () => {
    const fencing = new Fencing('orders');
    expect(fencing.fence(3, 'the primary lease was taken at epoch 3', 10n, 14n)).toBe(true);
    expect(fencing.report).toEqual({
      byEpoch: 3,
      reason: 'the primary lease was taken at epoch 3',
      unreplicated: { from: 11n, to: 14n },
    });
  });

  it('report no unreplicated LSNs when the stream holds them all', () => {
    const fencing = new Fencing('orders');
    fencing.fence(2, 'the primary lease was deleted', 14n, 14n);
    expect(fencing.report?.unreplicated).toBeNull();
    expect(fencing.error().message).toContain('every record of this primary was replicated');
  });

  it('keep the first report', () => {
    const fencing = new Fencing('orders');
    fencing.fence(2, 'first', 1n, 1n);
    expect(fencing.fence(3, 'second', 1n, 5n)).toBe(false);
    expect(fencing.report).toMatchObject({ byEpoch: 2, reason: 'first', unreplicated: null });
  });

  it('refuse with WAL_FENCED naming the stream, the new epoch and the refused LSN', () => {
    const fencing = new Fencing('orders');
    fencing.fence(4, 'taken', 1n, 3n);
    const error = fencing.error(3n);
    expect(error).toMatchObject({
      code: 'WAL_FENCED',
      details: { epoch: 4, lsn: 3n, unreplicated: { from: 2n, to: 3n } },
    });
    expect(error.message).toContain("'orders' at epoch 4");
    expect(error.message).toContain('LSN 3 was not acknowledged');
  });
});

describe('fencing, once the stream was read', () => {
  it('reports as unreplicated only what the stream history does not hold', () => {
    const fencing = new Fencing('orders');
    // Fenced by the lease watch while LSNs 11-14 were stored but not yet acknowledged.
    fencing.fence(3, 'the primary lease was taken at epoch 3', 10n, 20n);
    expect(fencing.final).toBe(false);
    fencing.settle(14n, 20n);
    expect(fencing.final).toBe(true);
    expect(fencing.report?.unreplicated).toEqual({ from: 15n, to: 20n });
  });

  it('reports none when the history holds every record', () => {
    const fencing = new Fencing('orders');
    fencing.fence(3, 'taken', 10n, 20n);
    fencing.settle(20n, 20n);
    expect(fencing.report?.unreplicated).toBeNull();
  });

  it('reaches an append that got its LSN after the takeover', () => {
    const fencing = new Fencing('orders');
    fencing.fence(3, 'taken', 10n, 12n);
    fencing.extend(13n);
    expect(fencing.report?.unreplicated).toEqual({ from: 11n, to: 13n });
    fencing.settle(11n, 13n);
    fencing.extend(12n);
    expect(fencing.report?.unreplicated).toEqual({ from: 12n, to: 13n });
  });

  it('says the range may be too wide when the stream could not be read', () => {
    const fencing = new Fencing('orders');
    fencing.fence(3, 'taken', 10n, 12n);
    fencing.settleUnread();
    expect(fencing.settled?.unreplicated).toEqual({ from: 11n, to: 12n });
    const error = fencing.error(12n);
    expect(error.details.unreplicatedChecked).toBe(false);
    expect(error.message).toContain('LSNs 11–12 may be only in this primary');
  });
});
