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
} as const;
