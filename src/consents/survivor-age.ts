import type { EntityManager } from 'typeorm';
import { triageFactsOf } from '../cases/case-derivation';
import { openSections } from '../cases/case-sections';
import type { CaseRow } from '../cases/cases.repository';
import { CASE_OWNER } from '../cases/cases.service';
import type { DataKeyService, FieldEncryptionService } from '../crypto';
import { survivorAgeAt, type SurvivorAgeNow } from './consent-age';

/**
 * The survivor's age now, as the consent rules take it (survivorAgeAt), from case `row`'s identity section
 * (read with it: `lockIfAllowed(…, ['identity'])`), opened in memory for that alone: nothing of it is returned or
 * logged. Its date of birth, or its age at the report.
 */
export async function survivorAgeOfCase(
  m: EntityManager,
  fields: FieldEncryptionService,
  dataKeys: DataKeyService,
  row: Pick<CaseRow, 'id' | 'reportedAt' | 'sections'>,
  now = new Date(),
): Promise<SurvivorAgeNow> {
  if (!row.sections.identity) return survivorAgeAt({}, row.reportedAt, now);
  const key = await dataKeys.get({ ownerType: CASE_OWNER, ownerId: row.id }, m);
  try {
    const sections = openSections(fields, key, row.id, row.sections, ['identity']);
    return survivorAgeAt(triageFactsOf(sections, row.reportedAt), row.reportedAt, now);
  } finally {
    key.wipe();
  }
}
