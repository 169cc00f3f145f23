import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A referral carries its consent's expiry (`consent_expires_at`), so that the sweep of ended consents
 * (ConsentExpiryService.revokeExpired, run before every referral request, a provider's case read and a report)
 * reads the live referrals whose consent has an expiry by now, from a partial index of its own, instead of every
 * consent that ever expired: a consent stays unwithdrawn once its expiry passes, so `consents_expiry_idx` kept
 * each of them for good and the sweep probed their referrals one by one, a cost that grew with the years. Kept
 * right by the database, whoever writes: a referral's copy is taken from its consent when inserted or written,
 * and a change of a consent's expiry (the service makes one only to end a child-protection duty at the survivor's
 * 18th birthday, endDutiesAtAdulthood) is carried to its referrals. A consent's expiry
 * is not survivor data (a date the ward set for a release).
 */
export class ReferralConsentExpiry1764000004300 implements MigrationInterface {
  name = 'ReferralConsentExpiry1764000004300';

  async up(q: QueryRunner): Promise<void> {
    // No consent expiry or referral may be written between the copy below and the triggers. Consents first, as a
    // withdrawal takes them (then its referrals); `referrals` at once in the ACCESS EXCLUSIVE mode its ADD COLUMN
    // takes: raised from a weaker lock mid-way, it could deadlock with a running instance's transaction that read
    // referrals and then waits to write one.
    await q.query(`LOCK TABLE consents IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`LOCK TABLE referrals IN ACCESS EXCLUSIVE MODE`);
    await q.query(`ALTER TABLE referrals ADD COLUMN consent_expires_at timestamptz`);
    await q.query(`
      UPDATE referrals r SET consent_expires_at = cs.expires_at
        FROM consents cs
       WHERE cs.id = r.consent_id AND cs.expires_at IS NOT NULL`);
    await q.query(`
      CREATE FUNCTION referrals_consent_expiry() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        SELECT cs.expires_at INTO NEW.consent_expires_at FROM consents cs WHERE cs.id = NEW.consent_id;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER referrals_consent_expiry
        BEFORE INSERT OR UPDATE OF consent_id, consent_expires_at ON referrals
        FOR EACH ROW EXECUTE FUNCTION referrals_consent_expiry()`);
    await q.query(`
      CREATE FUNCTION consents_expiry_to_referrals() RETURNS trigger
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      BEGIN
        UPDATE referrals SET consent_expires_at = NEW.expires_at WHERE consent_id = NEW.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER consents_expiry_to_referrals
        AFTER UPDATE OF expires_at ON consents
        FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at)
        EXECUTE FUNCTION consents_expiry_to_referrals()`);
    // The live referrals whose consent has an expiry: as many as there is current work, not history.
    await q.query(
      `CREATE INDEX referrals_consent_expiry_idx ON referrals (consent_expires_at) INCLUDE (consent_id)
         WHERE status IN ('pending', 'accepted') AND consent_expires_at IS NOT NULL`,
    );
    // `consents_expiry_idx`, the old sweep's, stays for this release: instances of the previous one still serving
    // in a rolling deploy sweep with it (without it, a scan of every consent before each referral request). A
    // later release drops it ("switch, then drop", docs/deployment.md).
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX referrals_consent_expiry_idx`);
    await q.query(`DROP TRIGGER consents_expiry_to_referrals ON consents`);
    await q.query(`DROP FUNCTION consents_expiry_to_referrals()`);
    await q.query(`DROP TRIGGER referrals_consent_expiry ON referrals`);
    await q.query(`DROP FUNCTION referrals_consent_expiry()`);
    await q.query(`ALTER TABLE referrals DROP COLUMN consent_expires_at`);
  }
}
