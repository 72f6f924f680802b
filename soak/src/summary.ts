import type { FuzzTally } from './damage-fuzz.js';
import type { FsPowerTally } from './fs-power-losses.js';
import type { KillTally } from './kill-cycles.js';
import type { PowerLossTally } from './power-loss.js';

export interface SoakResults {
  seed: number;
  kills: KillTally | null;
  power: PowerLossTally | null;
  fsPower: FsPowerTally | null;
  fuzz: FuzzTally | null;
  elapsedMs: number;
}

const n = (x: number) => x.toLocaleString('en-US');
const pct = (part: number, whole: number) =>
  whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)} %`;
const byCode = (m: Record<string, number>) =>
  Object.keys(m).length === 0
    ? 'none'
    : Object.entries(m)
        .sort((a, b) => b[1] - a[1])
        .map(([code, c]) => `${code} ${n(c)}`)
        .join(', ');

/** The final report: what each phase tried and found, then every violation (at most 50 shown). */
export function summarize(r: SoakResults): { text: string; violations: number } {
  const lines: string[] = ['', `== walnut soak summary (seed ${r.seed})`];
  const all: string[] = [];
  if (r.kills) {
    const k = r.kills;
    lines.push(
      `SIGKILL cycles:        ${n(k.cycles)} (${Object.entries(k.byBackend)
        .map(([b, c]) => `${b} ${n(c)}`)
        .join(
          ', ',
        )}; ${n(k.encryptedCycles)} encrypted; ${n(k.killedWhileOpening)} killed while opening)`,
      `  acknowledged:        ${n(k.acknowledged)} records, each re-checked after every later kill of its log (${n(k.acknowledgedChecks)} checks); ${n(k.recordsChecked)} recovered records checked`,
      `  violations:          ${n(k.violations.length)}`,
    );
    all.push(...k.violations);
  }
  if (r.power) {
    const p = r.power;
    lines.push(
      `power losses:          ${n(p.powerLosses)} in ${n(p.cases)} cases (${n(p.cutWhileOpening)} while opening, ${n(p.cutWhenIdle)} with nothing in flight, ${n(p.reordered)} keeping unsynced pages out of order)`,
      `  acknowledged:        ${n(p.acknowledged)} records (${n(p.acknowledgedChecks)} checks); ${n(p.recordsChecked)} recovered records checked; appends failed by the cut: ${byCode(p.rejected)}`,
      `  violations:          ${n(p.violations.length)}`,
    );
    all.push(...p.violations);
  }
  if (r.fsPower) {
    const p = r.fsPower;
    lines.push(
      `fs power losses:       ${n(p.cycles)} (${byCode(p.byBackend)}; ${n(p.torn)} with a torn write, ${n(p.reordered)} keeping unsynced pages out of order)`,
      `  steps:               ${byCode(p.byStep)}`,
      `  cut on file kind:    ${byCode(p.byKind)}`,
      `  acknowledged:        ${n(p.acknowledged)}; lost ${n(p.lost)}; lockouts ${n(p.lockouts)}`,
      `  violations:          ${n(p.violations.length)}`,
    );
    all.push(...p.violations);
  }
  if (r.fuzz) {
    const f = r.fuzz;
    lines.push(
      `damaged logs tried:    ${n(f.logs)} (${f.templates.join('; ')}; ${n(f.noChange)} damages changed no byte)`,
      `  default recovery:    refused ${n(Object.values(f.refused).reduce((a, b) => a + b, 0))} (${byCode(f.refused)}), cut ${n(f.cut)} (torn tail of the last segment, reported), cut at a clean end ${n(f.cutClean)}, opened unchanged ${n(f.unchanged)}`,
      `  salvage:             opened ${n(f.salvageOpened)}, refused ${n(Object.values(f.salvageRefused).reduce((a, b) => a + b, 0))} (${byCode(f.salvageRefused)})`,
      `  salvaged records:    kept ${n(f.salvageKept)} of ${n(f.salvageTotal)} (${pct(f.salvageKept, f.salvageTotal)}); of the ${n(f.salvageIntact)} whose frames were intact: ${pct(f.salvageKept - f.salvageKeptDamaged, f.salvageIntact)} kept (a measurement, not an invariant); ${n(f.salvageMissedIntact)} log(s) where it kept fewer than were intact`,
      `  violations:          ${n(f.violations.length)}`,
    );
    all.push(...f.violations);
  }
  lines.push(
    `invariant violations:  ${n(all.length)}`,
    `elapsed:               ${(r.elapsedMs / 1000).toFixed(1)} s`,
  );
  if (all.length > 0) {
    lines.push('', 'violations:');
    for (const v of all.slice(0, 50)) lines.push(`  - ${v}`);
    if (all.length > 50) lines.push(`  … and ${n(all.length - 50)} more`);
  }
  return { text: `${lines.join('\n')}\n`, violations: all.length };
}
