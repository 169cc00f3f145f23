/**
 * What TypeORM's schema builder proposes that is not drift: CHECK constraints, foreign keys and indexes are
 * written in the migrations and not all mirrored in the entities, so the builder would drop them. Used by
 * `migrations generate` (so that it writes only real differences) and by the test that the entities match.
 */
const MIGRATION_ONLY = /^ALTER TABLE "\w+" DROP CONSTRAINT "(\w+)"$|^DROP INDEX "public"\."(\w+)"$/;

/** The schema builder's statements without the drops of migration-only objects (and their down statements). */
export function realDifferences(
  up: readonly string[],
  down: readonly string[],
): { up: string[]; down: string[] } {
  // A drop the entities follow with a new definition of the same name is a real change: kept, both.
  const recreated = new Set(
    up.flatMap((q) => {
      const m = /^(?:ALTER TABLE "\w+" ADD CONSTRAINT|CREATE (?:UNIQUE )?INDEX) "(\w+)"/.exec(q);
      return m ? [m[1]] : [];
    }),
  );
  const kept: string[] = [];
  const names = new Set<string>();
  for (const q of up) {
    const m = MIGRATION_ONLY.exec(q);
    const name = m ? (m[1] ?? m[2]) : undefined;
    if (name && !recreated.has(name)) names.add(name);
    else kept.push(q);
  }
  // A dropped constraint or index comes back in `down` by its name: those go too.
  const restores = (q: string) =>
    [...names].some((n) =>
      new RegExp(`^(ALTER TABLE "\\w+" ADD CONSTRAINT|CREATE (UNIQUE )?INDEX) "${n}"`).test(q),
    );
  return { up: kept, down: down.filter((q) => !restores(q)) };
}
