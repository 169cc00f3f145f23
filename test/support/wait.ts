/** Polls `condition` until it holds; fails the test when it has not held within `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Until some statement of the test's database waits for a lock (up to 5 s): the point at which a test lets
 * the transaction it holds go on. `query` runs a statement on any connection to that database.
 */
export function someoneWaitsForALock(query: (sql: string) => Promise<{ n: number }[]>): Promise<void> {
  return waitFor(
    async () =>
      (
        await query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      )[0].n > 0,
    5_000,
    10,
  );
}
