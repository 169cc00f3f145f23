import type { QueryRunner } from 'typeorm';

/**
 * For a migration's up(): no release that does not know `migration` (its own name) may start on the database
 * from now on; `reason` says why, for the operator who meets the refusal. Its down() calls `releaseRequirement`.
 */
export async function requireOfEveryRelease(
  q: QueryRunner,
  migration: string,
  reason: string,
): Promise<void> {
  await q.query(
    `INSERT INTO schema_requirements (migration, reason) VALUES ($1, $2) ON CONFLICT (migration) DO NOTHING`,
    [migration, reason],
  );
}

export async function releaseRequirement(q: QueryRunner, migration: string): Promise<void> {
  await q.query(`DELETE FROM schema_requirements WHERE migration = $1`, [migration]);
}
