// Shared by the crypto module's specs only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createCryptoServices, CryptoServices } from './crypto.factory';
import { CryptoError, CryptoErrorCode } from './crypto.errors';

export interface CryptoFixture {
  crypto: CryptoServices;
  /** HAVEN_DATA_DIR of this fixture (the keyring is under `<dataDir>/keys`). */
  dataDir: string;
  /** A second, independent set of services on the same keys, like another process would have. */
  reopen(): Promise<CryptoServices>;
  cleanup(): void;
}

/** Crypto services with development (file) keys in a fresh temporary directory. */
export async function givenCrypto(dataSource: DataSource | null = null): Promise<CryptoFixture> {
  const dataDir = mkdtempSync(join(process.env.HAVEN_TEST_ROOT ?? tmpdir(), 'crypto-'));
  // Each service asks the database which KEK version it took up before every new data key (no wait for it).
  const options = { dataDir, production: false, kekAdoptionRefreshMs: 0 };
  return {
    crypto: await createCryptoServices(options, dataSource),
    dataDir,
    reopen: () => createCryptoServices(options, dataSource),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** The CryptoError code `fn` throws (or rejects with); fails the test if it succeeds or throws anything else. */
export async function cryptoErrorOf(fn: () => unknown): Promise<CryptoErrorCode> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
  throw new Error('expected a CryptoError, but the call succeeded');
}
