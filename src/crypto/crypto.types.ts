declare const ciphertextBrand: unique symbol;
declare const blindIndexBrand: unique symbol;

/** A sealed field value as stored in a bytea column (layout in field-encryption.service.ts). */
export type Ciphertext = Buffer & { readonly [ciphertextBrand]: 'Ciphertext' };

/** A keyed, truncated BLAKE2b of a normalised value, stored in a bytea column for equality search. */
export type BlindIndex = Buffer & { readonly [blindIndexBrand]: 'BlindIndex' };

/** Where a value lives; bound into the ciphertext so that it cannot be moved to another row or column. */
export interface FieldLocation {
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
}

/** The row a data key (DEK) belongs to, e.g. `{ ownerType: 'case', ownerId: <case uuid> }`. */
export interface DataKeyOwner {
  readonly ownerType: string;
  readonly ownerId: string;
}

/** A key-encryption key: a named key (`kekId`) in one of its versions. */
export interface KekRef {
  readonly kekId: string;
  readonly version: number;
}

/** One string per KEK version (a Set's or Map's key). */
export function kekRefKey(k: KekRef): string {
  return `${k.kekId}\0${k.version}`;
}

/** Encrypted field categories (product brief); `triage` is plaintext and never passes through here. */
export const FIELD_CATEGORIES = [
  'identity',
  'contact',
  'incident',
  'perpetrator',
  'health',
  'notes',
] as const;
export type FieldCategory = (typeof FIELD_CATEGORIES)[number];

/** Searchable fields; each has its own blind-index key. */
export const BLIND_INDEX_FIELDS = ['fullName', 'fullNameDob', 'phone', 'dateOfBirth'] as const;
export type BlindIndexField = (typeof BLIND_INDEX_FIELDS)[number];
