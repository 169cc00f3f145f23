import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One organisation name written two ways is one name (organizationNameKey): the tone of oa, oe and uy on either
 * vowel ("Yên Hòa", as most keyboards type it, and "Yên Hoà", as the official list of units writes it), Icelandic
 * Ð/ð (U+00D0/U+00F0, from text converted out of older encodings) for Đ/đ, and characters that show nothing
 * (zero-width spaces and joiners, soft hyphens, direction marks). Two active organisations of one province whose
 * names were told apart only by these were one station entered twice, or one name spoofed: they stop the
 * migration, naming them, rather than one being renamed (a retired one holds no name: RetiredOrganizationNamesFree). The keys are computed here as the service computes them from now on.
 */
/** organizationNameKey (src/directory/organization-name.ts) as of this migration: a migration does not change. */
function nameKey(name: string): string {
  return name
    .normalize('NFC')
    .trim()
    .replace(/\p{Cf}/gu, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .toLowerCase()
    .replace(/ð/gu, 'đ')
    .normalize('NFD')
    .replace(/([ou])([\u0300\u0301\u0303\u0309\u0323])(a[\u0302\u0306]?|e[\u0302]?|y)/gu, '$1$3$2')
    .normalize('NFC');
}

/** The key as OrganizationNameKey made it (for down). */
function previousKey(name: string): string {
  return name.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

async function rekey(q: QueryRunner, key: (name: string) => string): Promise<void> {
  const rows = (await q.query(
    `SELECT id, name, province_code, retired_at IS NOT NULL AS retired FROM organizations ORDER BY id`,
  )) as { id: string; name: string; province_code: string; retired: boolean }[];
  const seen = new Map<string, string>();
  const collisions: string[] = [];
  const changed: { id: string; key: string }[] = [];
  for (const r of rows) {
    const k = key(r.name);
    changed.push({ id: r.id, key: k });
    // A retired organisation holds no name (RetiredOrganizationNamesFree): its successor may spell it otherwise.
    if (r.retired) continue;
    const other = seen.get(`${r.province_code}\u0000${k}`);
    if (other) collisions.push(`${other} and ${r.id} (province ${r.province_code})`);
    seen.set(`${r.province_code}\u0000${k}`, r.id);
  }
  if (collisions.length) {
    throw new Error(
      `active organisations with the same name in one province once its spellings are set aside (the tone of ` +
        `oa/oe/uy, Ð for Đ, invisible characters): ${collisions.join(', ')}; rename one of each, or retire it ` +
        `(one station entered twice), then run the migrations again`,
    );
  }
  await q.query(
    `UPDATE organizations o SET name_key = k.key
       FROM unnest($1::uuid[], $2::text[]) AS k(id, key)
      WHERE o.id = k.id AND o.name_key IS DISTINCT FROM k.key`,
    [changed.map((c) => c.id), changed.map((c) => c.key)],
  );
}

export class OrganizationNameSpellings1764000004600 implements MigrationInterface {
  name = 'OrganizationNameSpellings1764000004600';

  async up(q: QueryRunner): Promise<void> {
    await rekey(q, nameKey);
  }

  async down(q: QueryRunner): Promise<void> {
    await rekey(q, previousKey);
  }
}
