import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { returnedRows } from '../database/pg-errors';

export interface ThrottleKeys {
  readonly account: string;
  readonly ip: string;
}

/**
 * Protects sign-in against guessing: counts failures per account (any username, known or not, so a lock
 * says nothing about whether the account exists) and per client IP in PostgreSQL, so that every instance
 * shares them, and locks a key for a while once it reaches its limit. Keys are SHA-256 hashes: a password
 * typed into the username field, or a client's IP, is never stored as such.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  keysFor(username: string, ip: string): ThrottleKeys {
    return {
      account: `a:${sha256(username.trim().toLowerCase())}`,
      ip: `i:${sha256(ip)}`,
    };
  }

  /** Seconds until the later of the account's and the IP's locks ends; 0 when neither is locked. */
  async lockedForSeconds(keys: ThrottleKeys): Promise<number> {
    const rows = await this.dataSource.query<{ seconds: number | null }[]>(
      `SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS seconds
         FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
      [[keys.account, keys.ip]],
    );
    return Math.max(0, rows[0]?.seconds ?? 0);
  }

  /** Counts one failure on both keys (atomically); returns true when this failure locked either of them. */
  async recordFailure(keys: ThrottleKeys): Promise<boolean> {
    const { maxFailuresPerAccount, maxFailuresPerIp, failureWindowSeconds, lockSeconds } = this.config.auth;
    await this.dataSource.query(
      `INSERT INTO login_throttle AS t (key, failures, window_started_at)
       VALUES ($1, 1, now()), ($2, 1, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.window_started_at < now() - make_interval(secs => $3) THEN 1 ELSE t.failures + 1 END,
         window_started_at = CASE WHEN t.window_started_at < now() - make_interval(secs => $3)
                                  THEN now() ELSE t.window_started_at END`,
      [keys.account, keys.ip, failureWindowSeconds],
    );
    const locked = returnedRows<{ key: string }>(
      await this.dataSource.query(
        `UPDATE login_throttle
          SET locked_until = now() + make_interval(secs => $4), failures = 0, window_started_at = now()
        WHERE (key = $1 AND failures >= $2) OR (key = $3 AND failures >= $5)
        RETURNING key`,
        [keys.account, maxFailuresPerAccount, keys.ip, lockSeconds, maxFailuresPerIp],
      ),
    );
    return locked.length > 0;
  }

  /** A successful sign-in clears the account's count (not the IP's: one valid account must not reset it). */
  async recordSuccess(keys: ThrottleKeys): Promise<void> {
    await this.dataSource.query(`DELETE FROM login_throttle WHERE key = $1`, [keys.account]);
  }

  /** Removes rows whose window and lock are both over. */
  async prune(): Promise<number> {
    const rows = returnedRows(
      await this.dataSource.query(
        `DELETE FROM login_throttle
        WHERE window_started_at < now() - make_interval(secs => $1)
          AND (locked_until IS NULL OR locked_until < now())
        RETURNING key`,
        [this.config.auth.failureWindowSeconds],
      ),
    );
    return rows.length;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
