import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { asCiphertext, DataKeyService, FieldEncryptionService, isCryptoError } from '../crypto';
import type { DataKey } from '../crypto';

export type TotpColumn = 'totp_secret' | 'totp_pending_secret';

/**
 * Keeps TOTP secrets out of the database in plaintext: each is sealed with the user's own data key and bound
 * to its row and column (users.totp_secret / users.totp_pending_secret), so a stolen dump or a value copied
 * onto another account reveals nothing usable.
 */
@Injectable()
export class TotpSecretCipher {
  constructor(
    private readonly dataKeys: DataKeyService,
    private readonly fields: FieldEncryptionService,
  ) {}

  async seal(userId: string, column: TotpColumn, secret: string, manager?: EntityManager): Promise<Buffer> {
    const key = await this.keyOf(userId, manager, true);
    try {
      return this.fields.encrypt(key, this.at(userId, column), secret);
    } finally {
      key.wipe();
    }
  }

  async open(userId: string, column: TotpColumn, sealed: Buffer, manager?: EntityManager): Promise<string> {
    const key = await this.keyOf(userId, manager, false);
    try {
      return this.fields.decryptString(key, this.at(userId, column), asCiphertext(sealed));
    } finally {
      key.wipe();
    }
  }

  private at(userId: string, column: TotpColumn) {
    return { table: 'users', column, rowId: userId };
  }

  private async keyOf(userId: string, manager: EntityManager | undefined, create: boolean): Promise<DataKey> {
    const owner = { ownerType: 'user', ownerId: userId };
    try {
      return await this.dataKeys.get(owner, manager);
    } catch (e) {
      if (create && isCryptoError(e, 'crypto.unknown_key')) return this.dataKeys.create(owner, manager);
      throw e;
    }
  }
}
