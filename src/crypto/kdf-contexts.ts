import type { BlindIndexField } from './crypto.types';

/**
 * crypto_kdf_derive_from_key contexts (exactly 8 bytes) and subkey ids: one context per purpose, one id per
 * key within it, so that no derived key ever serves two purposes. Changing any value here changes the
 * derived keys: blind indexes, the audit chain and issued tokens would no longer verify.
 */
export const KDF = {
  /** KEK version n in single-secret mode (a bare HAVEN_MASTER_KEY); subkey id = version. */
  kek: { context: 'havenKEK' },
  blindIndex: {
    context: 'havenBIX',
    ids: { fullName: 1, fullNameDob: 2, phone: 3, dateOfBirth: 4 } satisfies Record<BlindIndexField, number>,
  },
  auditChain: { context: 'havenAUD', id: 1 },
  checkpointSigning: { context: 'havenCKP', id: 1 },
  tokenSigning: { context: 'havenTOK', id: 1 },
  /** Keys of the sign-in throttle's rows (LoginThrottleService); changing it only resets the counts. */
  throttle: { context: 'havenTHR', id: 1 },
} as const;
