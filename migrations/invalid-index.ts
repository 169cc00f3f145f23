import type { QueryRunner } from 'typeorm';

/**
 * Drops index `name` when it exists but is not valid: what a `CREATE INDEX CONCURRENTLY` that failed or was
 * cancelled leaves behind. A migration that creates an index `IF NOT EXISTS` (so that it can be built
 * concurrently by hand first, docs/deployment.md) calls this first: otherwise it would skip the broken index and
 * go on as if it were there. An index still being built (it is invalid until its build ends) is not touched:
 * dropping it would wait for the build with the table locked against everyone, then throw the build away. The
 * migration stops instead, saying so; run it again once the build is over. So it does when the table stays in
 * use for a few seconds (a build by a role whose progress this one cannot see).
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
  // A build by another role is not shown to this one (its progress row's index is hidden): a drop that cannot
  // have the table within a few seconds stops, rather than wait behind it with the table locked for everyone.
  const [{ previous }] = (await q.query(`SELECT current_setting('lock_timeout') AS previous`)) as {
    previous: string;
  }[];
  await q.query(`SET LOCAL lock_timeout = '${DROP_WAIT}'`);
  try {
    await q.query(`DROP INDEX public.${name}`);
  } catch (e) {
    if ((e as { code?: unknown }).code !== '55P03') throw e;
    throw new Error(
      `index ${name} is invalid and its table stayed in use for ${DROP_WAIT}: a concurrent build of it by ` +
        'another role, or another long transaction, holds it. Let it finish, then run the migrations again',
      { cause: e },
    );
  }
  await q.query(`SELECT set_config('lock_timeout', $1, true)`, [previous]);
}

/** How long dropping an invalid index waits for its table. */
const DROP_WAIT = '5s';
