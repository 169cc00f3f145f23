import type { Ciphertext, DataKey, FieldCategory } from '../crypto';
import { EncryptedSections, FIELD_CATEGORIES, FieldEncryptionService } from '../crypto';

/**
 * How the encrypted categories of a case are stored: each category is one JSON document sealed into its own
 * `enc_*` column with the case's data key, bound to (cases, column, case id). A category the caller may not
 * see is neither selected nor decrypted.
 */
export type CaseSectionCategory = Exclude<FieldCategory, 'notes'>;
export const CASE_SECTION_CATEGORIES: readonly CaseSectionCategory[] = FIELD_CATEGORIES.filter(
  (c): c is CaseSectionCategory => c !== 'notes',
);

export const SECTION_COLUMN: Readonly<Record<CaseSectionCategory, string>> = {
  identity: 'enc_identity',
  contact: 'enc_contact',
  incident: 'enc_incident',
  perpetrator: 'enc_perpetrator',
  health: 'enc_health',
};

export interface IdentitySection {
  fullName: string;
  dateOfBirth?: string | null;
  ageYears?: number | null;
  ethnicity?: string | null;
  disability?: string | null;
}
export interface ContactSection {
  phone?: string | null;
  address?: string | null;
  safeContactNotes?: string | null;
}
export interface IncidentSection {
  occurredAt?: string | null;
  place?: string | null;
  narrative?: string | null;
}
export interface PerpetratorSection {
  fullName?: string | null;
  relationship?: string | null;
  address?: string | null;
  accessToWeapons?: boolean | null;
}
export interface HealthSection {
  injuries?: string | null;
  pregnant?: boolean | null;
  medicalNeeds?: string | null;
}

export interface CaseSections {
  identity?: IdentitySection;
  contact?: ContactSection;
  incident?: IncidentSection;
  perpetrator?: PerpetratorSection;
  health?: HealthSection;
}

export const CASES_TABLE = 'cases';

export function sealSections(
  fields: FieldEncryptionService,
  key: DataKey,
  caseId: string,
  sections: CaseSections,
): Partial<Record<CaseSectionCategory, Ciphertext | null>> {
  const out: Partial<Record<CaseSectionCategory, Ciphertext | null>> = {};
  for (const category of CASE_SECTION_CATEGORIES) {
    if (!(category in sections)) continue;
    const value = sections[category];
    out[category] =
      value === undefined
        ? null
        : fields.encrypt(
            key,
            { table: CASES_TABLE, column: SECTION_COLUMN[category], rowId: caseId },
            JSON.stringify(value),
          );
  }
  return out;
}

export function openSections(
  fields: FieldEncryptionService,
  key: DataKey,
  caseId: string,
  stored: Partial<Record<CaseSectionCategory, Buffer | null>>,
  allowed: Iterable<CaseSectionCategory>,
): CaseSections {
  const sections: { -readonly [C in keyof EncryptedSections]: EncryptedSections[C] } = {};
  const wanted = [...allowed];
  for (const category of wanted) {
    const value = stored[category];
    if (!value) continue;
    sections[category] = {
      doc: {
        location: { table: CASES_TABLE, column: SECTION_COLUMN[category], rowId: caseId },
        value: value as Ciphertext,
      },
    };
  }
  const plain = fields.decryptSections(key, sections, wanted);
  const out: CaseSections = {};
  for (const category of wanted) {
    const doc = plain[category]?.doc;
    if (doc) (out as Record<string, unknown>)[category] = JSON.parse(doc);
  }
  return out;
}
