/**
 * What makes two organisation names the same within a province (migration OrganizationNameKey): the Unicode
 * composed form (NFC: a name typed decomposed is the same name), lower case in full Unicode (Đ/đ, Ồ/ồ), and
 * runs of spaces as one.
 */
export function organizationNameKey(name: string): string {
  return organizationName(name).replace(/\s+/gu, ' ').toLowerCase();
}

/** A name as stored: composed (NFC) and trimmed. */
export function organizationName(name: string): string {
  return name.normalize('NFC').trim();
}

/** The longest name, in characters (code points) as PostgreSQL counts them (the table's CHECK). */
export const ORGANIZATION_NAME_MAX = 200;
