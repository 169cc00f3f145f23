import type { QueryRunner } from 'typeorm';

/**
 * Drops index `name` when it exists but is not valid: what a `CREATE INDEX CONCURRENTLY` that failed or was
 * cancelled leaves behind. A migration that creates an index `IF NOT EXISTS` (so that it can be built
 * concurrently by hand first, docs/deployment.md) calls this first: otherwise it would skip the broken index and
 * go on as if it were there. An index still being built (it is invalid until its build ends) is not touched:
 * dropping it would wait for the build with the table locked against everyone, then throw the build away. The
 * migration stops instead, saying so; run it again once the build is over.
 */
export async function dropInvalidIndex(q: QueryRunner, name: string): Promise<void> {
  const [invalid] = (await q.query(
    `SELECT (SELECT p.pid FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid LIMIT 1) AS building
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid`,
    [name],
  )) as { building: number | null }[];
  if (!invalid) return;
  if (invalid.building !== null) {
    throw new Error(
      `index ${name} is being built (CREATE INDEX CONCURRENTLY, server process ${invalid.building}): let it ` +
        'finish, then run the migrations again',
    );
  }
  await q.query(`DROP INDEX public.${name}`);
}
