import { randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { CryptoError } from './crypto.errors';
import { type DataKeyOwner, type KekRef, kekRefKey } from './crypto.types';
import { assertOwner, DataKey, dekWrapContext, unwrapStoredDek } from './data-key';
import type { GatedWrite } from '../database/gated-write';
import { isKekFloorRefusal } from '../database/pg-errors';
import { DataKeyRepository, DataKeyRow, gatedDataKeyInsert, NewDataKeyRow } from './data-key.repository';
import { KekChecks } from './kek-checks';
import type { KeyProvider } from './key-provider';

export type ShredResult = 'destroyed' | 'already_destroyed';

/**
 * How long a process goes on wrapping new data keys with the KEK version it last saw the database take up
 * (wrappingKek) before it asks again. keys:rotate waits longer than this between announcing a version and
 * raising the floor to it (KEK_ADOPTION_WAIT_MS).
 */
export const KEK_ADOPTION_REFRESH_MS = 5_000;

/**
 * Protects the data keys (DEKs): creates one random key per owner, stores it only wrapped by the active KEK,
 * unwraps it with whichever KEK version the row names (so reads keep working during a rotation), and
 * destroys it for crypto-shredding.
 */
export class DataKeyService {
  /** That this process's KEK versions are the keys the database knows under them (docs/keys.md). */
  readonly kekChecks: KekChecks;

  /** The version of the KEK id the database had taken up when last asked, and when that was asked. */
  private adopted: { kekId: string; version: number | null; askedAt: number } | null = null;
  private readonly asking = new Map<string, Promise<number | null>>();
  /** When writeFailed last forgot the adopted version (an answer to an older question is not kept). */
  private forgottenAt = -Infinity;

  constructor(
    private readonly repository: DataKeyRepository,
    private readonly provider: KeyProvider,
    private readonly adoptionRefreshMs = KEK_ADOPTION_REFRESH_MS,
  ) {
    this.kekChecks = new KekChecks(repository, provider);
  }

  /** A new DEK for `owner`; fails with crypto.invalid_input if the owner already has (or had) one. */
  async create(owner: DataKeyOwner, manager?: EntityManager): Promise<DataKey> {
    const { key, row } = await this.generate(owner, manager);
    try {
      await this.repository.insert(row, manager);
    } catch (e) {
      key.wipe();
      this.writeFailed(e);
      throw e;
    }
    return key;
  }

  /**
   * A new DEK for `owner`, not stored yet: `write` stores it as part of the caller's statement (GatedWrite), and
   * the key is usable only once that statement has landed. A second key for the owner fails that statement.
   */
  async prepare(owner: DataKeyOwner): Promise<{ key: DataKey; write: GatedWrite }> {
    const { key, row } = await this.generate(owner);
    return { key, write: gatedDataKeyInsert(row) };
  }

  private async generate(
    owner: DataKeyOwner,
    manager?: EntityManager,
  ): Promise<{ key: DataKey; row: NewDataKeyRow }> {
    const o = assertOwner(owner);
    const dekId = randomUUID();
    const kek = await this.wrappingKek(manager);
    const dek = randomBytes(32);
    const wrappedDek = await this.kekChecks
      .wrap(kek, dek, dekWrapContext(o, dekId, kek))
      .catch((e: unknown) => {
        dek.fill(0); // never used: nothing was stored
        throw e;
      });
    return { key: new DataKey(o, dekId, dek), row: { owner: o, dekId, kek, wrappedDek } };
  }

  /**
   * The KEK version new data keys are wrapped with: this process's newest that the database has taken up
   * (adoptedKekVersion: the floor, or a version keys:rotate announced by registering its check). A version only
   * installed is not used yet: while a new keyring reaches the instances one by one, the data keys made on the
   * first ones stay readable on the others. Without a database, or on one that has neither floor nor check,
   * the newest version held.
   */
  private async wrappingKek(manager?: EntityManager): Promise<KekRef> {
    const newest = await this.provider.activeKek();
    if (!this.repository.hasDatabase) return newest;
    const adopted = await this.adoptedVersion(newest.kekId, manager);
    if (adopted === null) {
      // Nothing taken up yet (a database without data keys): the version this key is wrapped with is, from now on
      // (its check is registered with it), and a version installed meanwhile waits for its announcement too.
      this.adopted = { kekId: newest.kekId, version: newest.version, askedAt: performance.now() };
      return newest;
    }
    if (adopted >= newest.version) return newest;
    const taken = (await this.provider.kekVersions()).filter(
      (k) => k.kekId === newest.kekId && k.version <= adopted,
    );
    // None held at or below it (a keyring without the versions in use, which the start refuses unless they are
    // excused as lost): its newest, as before there was a version to take up.
    return taken.reduce((a, b) => (b.version > a.version ? b : a), taken[0] ?? newest);
  }

  /**
   * A data key's write failed with `e` (here, or a prepared key's GatedWrite in the caller's statement). If the KEK
   * floor refused it, a rotation raised the floor since the version was chosen: the KEK version last seen taken up
   * is forgotten, the next data key asks again, and an answer to a question asked before now is not taken.
   */
  writeFailed(e: unknown): void {
    if (!isKekFloorRefusal(e)) return;
    this.adopted = null;
    this.forgottenAt = performance.now();
  }

  /**
   * adoptedKekVersion, asked again once KEK_ADOPTION_REFRESH_MS have passed (a monotonic clock: a wall clock
   * set back would stretch the wait): on `manager` when given (a caller's transaction, already holding its
   * connection), else one question at a time per KEK id on the pool.
   */
  private async adoptedVersion(kekId: string, manager?: EntityManager): Promise<number | null> {
    const known = this.adopted;
    if (known?.kekId === kekId && performance.now() - known.askedAt < this.adoptionRefreshMs)
      return known.version;
    // Stamped before the question: an answer is never taken as newer than it is.
    const askedAt = performance.now();
    const remember = (version: number | null) => {
      const newer = !this.adopted || this.adopted.kekId !== kekId || this.adopted.askedAt <= askedAt;
      if (newer && askedAt >= this.forgottenAt) this.adopted = { kekId, version, askedAt };
      return version;
    };
    if (manager) return remember(await this.repository.adoptedKekVersion(kekId, manager));
    let asking = this.asking.get(kekId);
    if (!asking) {
      asking = this.repository
        .adoptedKekVersion(kekId)
        .then(remember)
        .finally(() => this.asking.delete(kekId));
      this.asking.set(kekId, asking);
    }
    return asking;
  }

  /** The owner's DEK; crypto.unknown_key if it has none, crypto.key_destroyed if it was shredded. */
  async get(owner: DataKeyOwner, manager?: EntityManager): Promise<DataKey> {
    const o = assertOwner(owner);
    const row = await this.repository.find(o, manager);
    if (!row) throw new CryptoError('crypto.unknown_key', `no data key for this ${o.ownerType}`);
    return this.unwrap(row);
  }

  /**
   * DEKs of many owners of one type in one query (a page of cases). Owners without a key, or whose key was
   * destroyed, are absent from the map: their encrypted fields cannot be shown.
   */
  async getMany(
    ownerType: string,
    ownerIds: readonly string[],
    manager?: EntityManager,
  ): Promise<Map<string, DataKey>> {
    const ids = ownerIds.map((ownerId) => assertOwner({ ownerType, ownerId }).ownerId);
    const rows = await this.repository.findMany(ownerType, [...new Set(ids)], manager);
    const keys = new Map<string, DataKey>();
    for (const row of rows) {
      if (row.destroyedAt === null) keys.set(row.ownerId, await this.unwrap(row));
    }
    return keys;
  }

  /**
   * Crypto-shredding: forgets the owner's wrapped DEK, so every value sealed with it is unrecoverable
   * (reads then fail with crypto.key_destroyed). Idempotent; crypto.unknown_key if the owner never had a key.
   * Copies of the wrapped key in old row versions, WAL and backups stay sealed by the KEK version of the
   * time: they are gone for good once that version is rotated out and destroyed (docs/keys.md).
   */
  async shred(owner: DataKeyOwner, manager?: EntityManager): Promise<ShredResult> {
    const o = assertOwner(owner);
    const result = await this.repository.destroy(o, manager);
    if (result === 'not_found')
      throw new CryptoError('crypto.unknown_key', `no data key for this ${o.ownerType}`);
    return result;
  }

  /**
   * The database's KEK floor when this process's active KEK version is below it (a key rotation it missed:
   * the database would refuse every key it makes, and it cannot unwrap the re-wrapped ones), else null; null
   * too without a database (a CLI or test may build the crypto services without one).
   */
  async floorAboveActive(): Promise<{ active: KekRef; floor: number } | null> {
    if (!this.repository.hasDatabase) return null;
    const active = await this.provider.activeKek();
    const floor = await this.repository.kekFloor(active.kekId);
    return floor !== null && floor > active.version ? { active, floor } : null;
  }

  /**
   * The KEK versions live data keys are wrapped with that this process does not hold, each with how many keys
   * use it (a keyring rolled back past a rotation's new version: every record made since would answer 503);
   * none without a database.
   */
  async kekVersionsNotHeld(): Promise<(KekRef & { keys: number })[]> {
    if (!this.repository.hasDatabase) return [];
    const held = new Set((await this.provider.kekVersions()).map(kekRefKey));
    return (await this.repository.liveKekVersionCounts()).filter((k) => !held.has(kekRefKey(k)));
  }

  /** Unwraps a stored row; used by reads and by rotation. */
  async unwrap(row: DataKeyRow): Promise<DataKey> {
    const dek = await unwrapStoredDek(this.provider, row);
    return new DataKey({ ownerType: row.ownerType, ownerId: row.ownerId }, row.dekId, dek);
  }
}
