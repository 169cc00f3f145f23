import type { QueryRunner } from 'typeorm';

/**
 * Drops index `name` when it exists but is not valid: what a `CREATE INDEX CONCURRENTLY` that failed or was
 * cancelled leaves behind. A migration that creates an index `IF NOT EXISTS` (so that it can be built
 * concurrently by hand first, docs/deployment.md) calls this first: otherwise it would skip the broken index and
 * go on as if it were there.
 */
export async function dropInvalidIndex(q: QueryRunner, name: string): Promise<void> {
  const rows = (await q.query(
    `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid`,
    [name],
  )) as unknown[];
  if (rows.length > 0) await q.query(`DROP INDEX public.${name}`);
}
