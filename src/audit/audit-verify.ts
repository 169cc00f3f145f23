import type { PurposeKeys } from '../crypto';
import {
  Checkpoint,
  checkCheckpoint,
  CheckpointCheck,
  CheckpointFileReading,
  NEWEST_CHECKPOINT_SQL,
} from './audit-checkpoint';
import { SqlClient, verifyAuditChain, VerifyProblem, VerifyResult } from './audit-verifier';
import type { ParallelVerifyOptions } from './audit-verify-parallel';

export interface AccessLogVerification extends VerifyResult {
  /** The newest authentic checkpoint the log was compared with, and where it was found. */
  checkpoint: { seq: number; at: string; keyId: string; sources: CheckpointSource[] } | null;
}

/** Where a checkpoint came from: this host's file, a copy kept off the host (the CLI), the database's table. */
export const CHECKPOINT_SOURCES = ['file', 'offhost', 'database'] as const;
export type CheckpointSource = (typeof CHECKPOINT_SOURCES)[number];

export interface AccessLogVerifyOptions {
  /**
   * This instance's checkpoint file, read (CheckpointFile.read or readAppended), or null when there is none (or it is left out: a
   * replica behind this host's newest checkpoint would look cut).
   */
  file: CheckpointFileReading | null;
  /** Each off-host copy given (`audit:verify --checkpoints`), read. */
  offHost?: readonly CheckpointFileReading[];
  /** Verify checkpoints against this Ed25519 public key instead of the one derived from the master secret. */
  trustedPublicKey?: Uint8Array;
  /** Check a large log in worker threads first (audit-verify-parallel.ts); without it, in this thread. */
  parallel?: ParallelVerifyOptions;
}

type Keys = Pick<
  PurposeKeys,
  | 'auditChainMac'
  | 'auditChainKey'
  | 'auditChainLinker'
  | 'signCheckpoint'
  | 'verifyCheckpoint'
  | 'checkpointPublicKey'
>;

/**
 * Verifies the whole access log: the chain, the stripe heads, and the furthest checkpoint of the file (kept
 * outside the database) and of the database's own table. A checkpoint that does not verify is itself a
 * finding (a forged or edited checkpoint). Used by GET /api/v1/audit/verify and `npm run audit:verify`.
 */
export async function verifyAccessLog(
  client: SqlClient,
  keys: Keys,
  options: AccessLogVerifyOptions,
): Promise<AccessLogVerification> {
  const stored = await latestStoredCheckpoint(client);
  // Every one that verifies is compared with, the newest counting: a copy shipped an hour ago does not stand in
  // for this host's newer checkpoints.
  const candidates: { source: CheckpointSource; value: unknown }[] = [];
  let checkpointProblem: VerifyProblem | undefined;
  const files: [CheckpointSource, CheckpointFileReading][] = [
    ...(options.file ? [['file', options.file] as [CheckpointSource, CheckpointFileReading]] : []),
    ...(options.offHost ?? []).map((r): [CheckpointSource, CheckpointFileReading] => ['offhost', r]),
  ];
  for (const [source, reading] of files) {
    for (const value of reading.candidates) candidates.push({ source, value });
    // A line behind an earlier one: an older checkpoint appended again (it would stand in for the furthest and
    // hide a tail cut since), or an edit.
    if (reading.wentBack !== null) checkpointProblem ??= 'checkpoint_invalid';
  }
  if (stored !== null) candidates.push({ source: 'database', value: stored });

  const trusted: { source: CheckpointSource; checkpoint: Checkpoint }[] = [];
  for (const c of candidates) {
    const check: CheckpointCheck = checkCheckpoint(keys, c.value, options.trustedPublicKey);
    if (check === 'ok') trusted.push({ source: c.source, checkpoint: c.value as Checkpoint });
    else checkpointProblem ??= check === 'foreign_key' ? 'checkpoint_foreign_key' : 'checkpoint_invalid';
  }

  const result = await verifyAuditChain(client, keys, {
    checkpoints: trusted.map((t) => t.checkpoint),
    parallel: options.parallel,
  });
  const newest = trusted.reduce<(typeof trusted)[number] | null>(
    (best, t) => (!best || t.checkpoint.seq > best.checkpoint.seq ? t : best),
    null,
  );
  const out: AccessLogVerification = {
    ...result,
    checkpoint: newest
      ? {
          seq: newest.checkpoint.seq,
          at: newest.checkpoint.at,
          keyId: newest.checkpoint.keyId,
          sources: [
            ...new Set(
              trusted.filter((t) => t.checkpoint.root === newest.checkpoint.root).map((t) => t.source),
            ),
          ],
        }
      : null,
  };
  if (result.ok && checkpointProblem) {
    out.ok = false;
    out.problem = checkpointProblem;
  }
  return out;
}

async function latestStoredCheckpoint(client: SqlClient): Promise<unknown> {
  const { rows } = (await client.query({
    text: NEWEST_CHECKPOINT_SQL,
    rowMode: 'array',
  })) as { rows: [string][] };
  if (!rows[0]) return null;
  try {
    return JSON.parse(rows[0][0]) as unknown;
  } catch {
    return { malformed: true };
  }
}
