/**
 * The PostgreSQL advisory lock keys Haven's processes take, in one place so that no two uses share a key (the
 * demo seed and key rotation once did: a rotation stalled a demo instance's start).
 */
export const ADVISORY_LOCKS = {
  /** Migrations, one process at a time (migrate.ts). */
  migration: 74_061_983,
  /** The demo data set, seeded once (demo-seed.service.ts). */
  demoSeed: 74_061_985,
  /** keys:rotate, one run at a time (key-rotation.ts). */
  keyRotation: 74_061_984,
  /** users:create-admin, one first administrator (users.service.ts). */
  firstAdmin: 74_061_986,
  /**
   * Case registrations of one survivor's name (with the name's blind index as the second key), one at a time:
   * each searches for duplicates before its case is stored (cases.service.ts).
   */
  registrationByName: 74_061_987,
} as const;
