// The crypto module's public surface. Code outside src/crypto imports from here, never libsodium and never
// sodium.ts.
export { normalizeDateOfBirth, normalizeName, normalizePhone } from './blind-index.normalize';
export { BLIND_INDEX_BITS, type BlindIndexInputs, BlindIndexService } from './blind-index.service';
export { CryptoError, type CryptoErrorCode, isCryptoError } from './crypto.errors';
export { createCryptoServices, createKeyProvider, type CryptoServices } from './crypto.factory';
export { CryptoModule, KEY_PROVIDER } from './crypto.module';
export { CRYPTO_OPTIONS, cryptoOptionsFrom, type CryptoOptions } from './crypto.options';
export {
  BLIND_INDEX_FIELDS,
  type BlindIndex,
  type BlindIndexField,
  type Ciphertext,
  type DataKeyOwner,
  FIELD_CATEGORIES,
  type FieldCategory,
  type FieldLocation,
  type KekRef,
} from './crypto.types';
export { DataKey } from './data-key';
export { DataKeyService, type ShredResult } from './data-key.service';
export { EnvKeyProvider } from './env-key-provider';
export {
  asCiphertext,
  ciphertextKeyId,
  type DecryptedSections,
  type EncryptedField,
  type EncryptedSections,
  fieldsAt,
  FieldEncryptionService,
} from './field-encryption.service';
export { FileKeyProvider } from './file-key-provider';
export { type KeyProvider, LocalKeyringProvider } from './key-provider';
export {
  rotateKeys,
  type RotateKeysOptions,
  type RotationProgress,
  type RotationResult,
} from './key-rotation';
export { PurposeKeys } from './purpose-keys';
