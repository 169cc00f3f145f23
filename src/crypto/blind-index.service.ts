import { normalizeDateOfBirth, normalizeName, normalizePhone } from './blind-index.normalize';
import { CryptoError } from './crypto.errors';
import type { BlindIndex, BlindIndexField } from './crypto.types';
import type { PurposeKeys } from './purpose-keys';
import type { Sodium } from './sodium';

/**
 * Bits kept of each blind index: 32 (4 bytes).
 *
 * Trade-off. A blind index is deterministic, so anyone holding the database sees which rows share a value
 * (and how often a value occurs) whatever the length; the key (derived per field, never stored) is what
 * stops them from computing the index of a guessed name or phone. Truncation only adds deniability when
 * the index space is small compared with the number of rows: with b bits and N rows a lookup returns about
 * N / 2^b false matches. At b = 32 and N = 10^6 keys that is 2.3e-4 per lookup - duplicate checks stay
 * precise ("possible duplicate" almost always means the same normalised value) and an index value never
 * needs a decryption to confirm it. Going down to ~16 bits would make every index ambiguous (k-anonymity
 * of ~N/65536) but then confirming a match means decrypting other survivors' names, which is itself an
 * access to log and to scope; going above 32 bits leaks nothing more but stores more. Revisit if a single
 * deployment approaches 10^8 indexed values.
 */
export const BLIND_INDEX_BITS = 32;
const BLIND_INDEX_BYTES = BLIND_INDEX_BITS / 8;
const HASH_BYTES = 16; // crypto_generichash minimum; truncated to BLIND_INDEX_BYTES

export interface BlindIndexInputs {
  fullName: string;
  fullNameDob: { fullName: string; dateOfBirth: string };
  phone: string;
  dateOfBirth: string;
}

/**
 * Protects searchable values: turns a name, name + date of birth, phone or date of birth into a keyed,
 * truncated BLAKE2b of its canonical form, with a separate key per field, so equality search works without
 * plaintext. A date of birth alone has few values (some 40,000 in a century): its index hides the date from
 * whoever lacks the key, not which cases share one.
 */
export class BlindIndexService {
  constructor(
    private readonly keys: PurposeKeys,
    private readonly sodium: Sodium,
  ) {}

  compute<F extends BlindIndexField>(field: F, value: BlindIndexInputs[F]): BlindIndex {
    const canonical = this.canonical(field, value);
    const hash = this.sodium.keyedHashText(HASH_BYTES, canonical, this.keys.blindIndexKeyRef(field));
    return hash.subarray(0, BLIND_INDEX_BYTES) as BlindIndex;
  }

  fullName(fullName: string): BlindIndex {
    return this.compute('fullName', fullName);
  }

  fullNameDob(fullName: string, dateOfBirth: string): BlindIndex {
    return this.compute('fullNameDob', { fullName, dateOfBirth });
  }

  phone(phone: string): BlindIndex {
    return this.compute('phone', phone);
  }

  dateOfBirth(dateOfBirth: string): BlindIndex {
    return this.compute('dateOfBirth', dateOfBirth);
  }

  /** The canonical text that is hashed (for tests and diagnostics; never store or log it). */
  canonical<F extends BlindIndexField>(field: F, value: BlindIndexInputs[F]): string {
    let canonical: string;
    switch (field) {
      case 'fullName':
        canonical = normalizeName(value as BlindIndexInputs['fullName']);
        break;
      case 'fullNameDob': {
        const v = value as BlindIndexInputs['fullNameDob'];
        const name = normalizeName(v.fullName);
        // '\n' cannot occur in a normalised name, so the pair has one encoding.
        canonical = name && `${name}\n${normalizeDateOfBirth(v.dateOfBirth)}`;
        break;
      }
      case 'phone':
        canonical = normalizePhone(value as BlindIndexInputs['phone']);
        break;
      case 'dateOfBirth':
        canonical = normalizeDateOfBirth(value as BlindIndexInputs['dateOfBirth']);
        break;
      default: {
        const unknown: never = field;
        throw new CryptoError('crypto.invalid_input', `no blind index for field "${String(unknown)}"`);
      }
    }
    if (!canonical) throw new CryptoError('crypto.invalid_input', `nothing searchable in ${field}`);
    return canonical;
  }
}
