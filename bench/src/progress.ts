/**
 * One live progress line on a terminal (rewritten in place, with the elapsed time), plain
 * lines otherwise (CI logs); a persistent line per finished run either way.
 */
import { formatValue } from './report/format.js';
import { primaryMetric, type RunRecord, rowName } from './results.js';

export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private current = '';
  private since = 0;
  private ticker: NodeJS.Timeout | undefined;

  status(text: string): void {
    this.current = text;
    this.since = performance.now();
    if (this.tty) this.redraw();
    else process.stderr.write(`${text}\n`);
  }

  start(index: number, total: number, title: string): void {
    this.status(`[${String(index).padStart(String(total).length)}/${total}] ${title}`);
    if (this.tty && this.ticker === undefined) {
      this.ticker = setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    }
  }

  line(text: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${text}\n`);
    if (this.tty && this.current !== '') this.redraw();
  }

  runDone(run: RunRecord, label: string): void {
    const which = run.purpose === 'verification' ? ' (untimed, under strace)' : '';
    const name = `${rowName(run.workload, run.variant)} ${label}${run.rep > 1 ? ` rep ${run.rep}` : ''}${which}`;
    if (run.metrics === undefined) {
      this.line(`  ${name}: ${run.status}: ${run.error ?? ''}`);
      return;
    }
    const metric = primaryMetric(run.workload);
    const value = formatValue(metric.of(run.metrics), metric.unit);
    const durability =
      run.durability.status === 'not-required'
        ? ''
        : run.durability.status === 'durable'
          ? ` — durable, ${run.durability.syncs} syncs`
          : ` — ${run.durability.status}: ${'why' in run.durability ? run.durability.why : ''}`;
    this.line(`  ${name}: ${value} in ${run.metrics.seconds.toFixed(2)} s${durability}`);
  }

  done(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    if (this.tty) process.stderr.write('\r\x1b[2K');
    this.current = '';
  }

  private redraw(): void {
    const elapsed = ((performance.now() - this.since) / 1000).toFixed(0);
    process.stderr.write(`\r\x1b[2K${this.current} … ${elapsed} s`);
  }
}
