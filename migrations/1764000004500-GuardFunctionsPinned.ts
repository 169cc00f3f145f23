import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The guards' trigger functions that ran with the writing session's search path now run with a fixed one, as the
 * others do (CheckpointTriggerPinned): pg_catalog first, then public, pg_temp last. A session may put a schema of
 * its own before pg_catalog (`SET search_path = mine, pg_catalog, public`), and its operators and functions then
 * stand in for the built-in ones a guard names: an `<` of its own that always answers false let a data key be
 * wrapped below the KEK floor, a `<=` let a stripe head move back. Making such a schema needs CREATE on the
 * database or on a schema, which the runtime role's start-up check refuses too (runtime-role.ts); this holds
 * whoever writes. Tables these functions name are named with their schema already (a temporary table comes
 * first on a session's path).
 */
const PINNED_NOW = [
  'audit_reject_change()',
  'audit_head_advance_only()',
  'data_keys_kek_floor()',
  'data_keys_tombstone_final()',
];

export class GuardFunctionsPinned1764000004500 implements MigrationInterface {
  name = 'GuardFunctionsPinned1764000004500';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of PINNED_NOW) {
      await q.query(`ALTER FUNCTION ${fn} SET search_path = pg_catalog, public, pg_temp`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of PINNED_NOW) await q.query(`ALTER FUNCTION ${fn} RESET search_path`);
  }
}
