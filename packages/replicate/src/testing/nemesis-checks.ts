import { isWalError, Wal } from '@walnut/wal';
import { decodeMessage, MessageKind, RESEED_FLAG } from '../cluster/message.js';
import { Follower } from '../follower/follower.js';
import { type NatsCluster, sleep } from './nats-cluster.js';
import { nemesisPayload } from './nemesis-payload.js';
import { readStreamCopy } from './stream-files.js';

// The nemesis's checks: acknowledged records against a log, and the servers' own copies.

/**
 * Books append `i` as acknowledged at `lsn` (`acked`: LSN → append). Returns the append
 * acknowledged at that LSN before, if it was another: two acknowledged histories for one
 * LSN, of which the log can keep only one, so the earlier record is lost even where every
 * later check finds the later one in place.
 */
export function bookAck(acked: number[], lsn: number, i: number): number | undefined {
  const before = acked[lsn];
  acked[lsn] = i;
  return before !== undefined && before !== i ? before : undefined;
}

/** Acknowledged records of `acked` up to LSN `upTo` missing from the log in `dir`, or with other bytes. */
export async function lostIn(
  dir: string,
  acked: readonly number[],
  upTo: number,
  size: number,
  where: string,
  findings: string[],
): Promise<number> {
  const wal = await Wal.open(dir).storageIo('sync-fs').build();
  const seen = new Set<number>();
  try {
    await wal.replay(1n, (r) => {
      const i = acked[Number(r.lsn)];
      if (i !== undefined && Buffer.from(r.payload).equals(nemesisPayload(i, size))) {
        seen.add(Number(r.lsn));
      }
    });
  } finally {
    await wal.close();
  }
  let lost = 0;
  for (let lsn = 1; lsn <= upTo; lsn++) {
    if (acked[lsn] === undefined) continue;
    if (!seen.has(lsn)) {
      if (lost < 5) findings.push(`${where}: acknowledged LSN ${lsn} missing or different`);
      lost++;
    }
  }
  return lost;
}

/**
 * Reads every server's own copy of the stream from its store and checks it against the
 * log: each record's bytes are the append that got its LSN (acknowledged ones by number,
 * the others by their self-describing payload), copies agree LSN by LSN, within a copy
 * each message follows on from the one before (going back only at a RESEED marker: a hole
 * or an overlap is a replica that lost or doubled records), and each copy holds every
 * record acknowledged up to LSN `upTo` (`missing`, per server). Returns those, with the
 * disagreements counted silent unless Walnut reported one (`reported`). Copies that number the same
 * records with other sequences (JetStream's own replicas disagreeing while every copy
 * still agrees with the log) are counted in `tally.sequenceMismatches`, not as divergence.
 */
export async function replicasDisagree(
  cluster: NatsCluster,
  stream: string,
  acked: readonly number[],
  upTo: number,
  size: number,
  check: number,
  findings: string[],
  reported: boolean,
  tally: { messages: number; sequenceMismatches: number },
): Promise<{ disagreements: number; missing: number[] }> {
  let copies: Map<number, Buffer>[] = [];
  // A server still catching up is given up to 30 s before its copy counts as short: until
  // every copy has the same last sequence and as many messages. The last sequence alone
  // was not enough (seed 7171: n1 counted 7,305 records short at the final check, and held
  // every one of them once the servers were stopped).
  for (let attempt = 0; attempt < 60; attempt++) {
    copies = cluster.nodes.map((n) => readStreamCopy(n.spec.storeDir, stream));
    const shapes = copies.map((c) => {
      let last = 0;
      for (const seq of c.keys()) if (seq > last) last = seq;
      return `${last}/${c.size}`;
    });
    if (shapes.every((shape) => shape === shapes[0])) break;
    await sleep(500);
  }
  let bad = 0;
  const note = (what: string) => {
    bad++;
    if (bad <= 5) findings.push(`check ${check}: ${what}`);
  };
  const byLsn: number[] = [];
  const missing: number[] = [];
  for (const [n, copy] of copies.entries()) {
    const node = `n${n + 1}`;
    tally.messages += copy.size;
    const holds = new Uint8Array(upTo + 1);
    let next: bigint | null = null;
    for (const seq of [...copy.keys()].sort((a, b) => a - b)) {
      const message = decodeMessage(copy.get(seq)!, `${node}#${seq}`);
      if (message.kind === MessageKind.EPOCH) {
        const reseed = (message.flags & RESEED_FLAG) !== 0;
        if (next !== null && (reseed ? message.firstLsn > next : message.firstLsn !== next)) {
          note(
            `${node}'s copy: the marker at sequence ${seq} begins at LSN ${message.firstLsn}, after LSN ${next - 1n}`,
          );
        }
        next = message.firstLsn;
        continue;
      }
      if (next !== null && message.firstLsn !== next) {
        note(
          `${node}'s copy ${message.firstLsn > next ? 'lacks' : 'repeats'} LSNs at sequence ${seq} (LSN ${message.firstLsn} where ${next} was next)`,
        );
      }
      next = message.lastLsn + 1n;
      for (const r of message.records) {
        const lsn = Number(r.lsn);
        const payload = Buffer.from(r.payload);
        const i = payload.length >= 4 ? payload.readUInt32LE(0) : -1;
        if (i < 0 || !payload.equals(nemesisPayload(i, size))) {
          note(`${node}'s copy holds bytes no append wrote at LSN ${lsn} (sequence ${seq})`);
        } else if (acked[lsn] !== undefined && acked[lsn] !== i) {
          note(
            `${node}'s copy holds append ${i} at LSN ${lsn}, acknowledged as append ${acked[lsn]}`,
          );
        } else if (byLsn[lsn] !== undefined && byLsn[lsn] !== i) {
          note(`the servers' copies hold appends ${byLsn[lsn]} and ${i} at LSN ${lsn}`);
        } else {
          byLsn[lsn] = i;
          if (lsn <= upTo) holds[lsn] = 1;
        }
      }
    }
    let lacks = 0;
    for (let lsn = 1; lsn <= upTo; lsn++) if (acked[lsn] !== undefined && holds[lsn] === 0) lacks++;
    if (lacks > 0) {
      findings.push(
        `check ${check}: ${node}'s own copy lacks ${lacks} acknowledged records (up to LSN ${upTo})`,
      );
    }
    missing.push(lacks);
  }
  const seqs = new Set<number>();
  for (const copy of copies) for (const seq of copy.keys()) seqs.add(seq);
  for (const seq of seqs) {
    const held = copies.map((c) => c.get(seq)).filter((b): b is Buffer => b !== undefined);
    if (held.length > 1 && !held.every((b) => b.equals(held[0]!))) tally.sequenceMismatches++;
  }
  return { disagreements: reported ? 0 : bad, missing };
}

/**
 * A fresh follower for a check, opened once the healed cluster answers: right after a fault
 * a meta-leader election can refuse setup ("JetStream system temporarily unavailable") for
 * longer than Follower.open's own retries on a loaded machine. What the check is about is
 * the data, so setup refusals (WAL_IO) are retried for up to a minute, and said.
 */
export async function openFollowerWhenReady(
  dir: string,
  servers: string[],
  stream: string,
  progress: (line: string) => void,
  connection: { ignoreClusterUpdates?: boolean } = {},
): Promise<Follower> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      return await Follower.open(dir, { servers, stream, connection });
    } catch (error) {
      if (!isWalError(error, 'WAL_IO') || performance.now() > deadline) throw error;
      progress(`check: follower setup refused, retrying: ${error.message}`);
      await sleep(1_000);
    }
  }
}
