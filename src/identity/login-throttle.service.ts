import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
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
      ip: `i:${sha256(throttleAddress(ip))}`,
    };
  }

  /**
   * Takes an attempt before its password is checked: counts it on both keys at once, as a failure until
   * `recordSuccess` gives it back. Returns the seconds to wait (0: go on). A key already locked refuses without
   * counting; an attempt beyond a key's limit locks it and is refused. Counting first is what holds the limit
   * under a burst: checking the lock and counting only after a password hash (~0.1 s) let every request that
   * arrived before the fifth failure was written through, thousands in one window.
   */
  async begin(keys: ThrottleKeys): Promise<number> {
    const { maxFailuresPerAccount, maxFailuresPerIp, failureWindowSeconds } = this.config.auth;
    // A refused attempt counts nowhere: a locked address must not go on filling accounts' counts (one address
    // could then lock every account), nor a locked account its address's (a shared NAT would lock everyone).
    const locked = await this.lockedForSeconds(keys);
    if (locked > 0) return locked;
    // The account's row, then the address's ('a:' < 'i:'): the order every statement here takes them in.
    const rows = await this.dataSource.query<{ key: string; failures: number; seconds: number | null }[]>(
      `INSERT INTO login_throttle AS t (key, failures, window_started_at)
       VALUES ($1, 1, now()), ($2, 1, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.locked_until > now() THEN t.failures
                         WHEN t.window_started_at < now() - make_interval(secs => $3) THEN 1
                         ELSE t.failures + 1 END,
         window_started_at = CASE WHEN t.locked_until > now() THEN t.window_started_at
                                  WHEN t.window_started_at < now() - make_interval(secs => $3) THEN now()
                                  ELSE t.window_started_at END
       RETURNING key, failures,
                 CASE WHEN locked_until > now() THEN ceil(extract(epoch FROM locked_until - now()))::int END AS seconds`,
      [keys.account, keys.ip, failureWindowSeconds],
    );
    const lockedFor = Math.max(0, ...rows.map((r) => r.seconds ?? 0));
    if (lockedFor > 0) return lockedFor;
    const over = rows.some(
      (r) => r.failures > (r.key === keys.account ? maxFailuresPerAccount : maxFailuresPerIp),
    );
    if (!over) return 0;
    await this.lockReached(keys);
    return this.config.auth.lockSeconds;
  }

  /** Which of the keys are locked now (the account's, the address's, both or none), and until when (epoch ms). */
  async lockedKeys(keys: ThrottleKeys): Promise<{ key: string; until: number }[]> {
    const rows = await this.dataSource.query<{ key: string; until: string }[]>(
      `SELECT key, floor(extract(epoch FROM locked_until) * 1000)::bigint::text AS until
         FROM login_throttle WHERE key = ANY($1) AND locked_until > now() ORDER BY key`,
      [[keys.account, keys.ip]],
    );
    return rows.map((r) => ({ key: r.key, until: Number(r.until) }));
  }

  /** Seconds until the later of the account's and the address's locks ends; 0 when neither is locked. */
  private async lockedForSeconds(keys: ThrottleKeys): Promise<number> {
    const rows = await this.dataSource.query<{ seconds: number | null }[]>(
      `SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS seconds
         FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
      [[keys.account, keys.ip]],
    );
    return Math.max(0, rows[0]?.seconds ?? 0);
  }

  /**
   * Settles a failed attempt (already counted by `begin`); returns true when it locked either key, i.e. when
   * it was the key's last allowed one.
   */
  async recordFailure(keys: ThrottleKeys): Promise<boolean> {
    return (await this.lockReached(keys)).length > 0;
  }

  /**
   * A successful attempt: clears the account's count, and gives the IP back the attempt `begin` counted (one
   * valid account must not reset the IP's count, nor a NAT's sign-ins add up to a lock).
   */
  async recordSuccess(keys: ThrottleKeys): Promise<void> {
    // One row per statement: a statement that holds one key's row while it waits for the other's could deadlock
    // with another attempt's begin() (which locks the account's, then the address's).
    await this.dataSource.query(`DELETE FROM login_throttle WHERE key = $1`, [keys.account]);
    await this.recordPasswordOnly(keys);
  }

  /**
   * The right password of a two-factor account, sent without its code (the first of a two-step sign-in): gives
   * the IP back the attempt `begin` counted, as a success does (an office's two-step sign-ins behind one NAT must
   * not add up to a lock), and keeps it on the account's count, which only a sign-in with the code clears (else
   * whoever has the password could clear it between guesses of the code).
   */
  async recordPasswordOnly(keys: ThrottleKeys): Promise<void> {
    await this.dataSource.query(
      `UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1`,
      [keys.ip],
    );
  }

  /** Locks each key (not locked yet) whose count reached its limit; returns the keys it locked. */
  private async lockReached(keys: ThrottleKeys): Promise<{ key: string }[]> {
    const { maxFailuresPerAccount, maxFailuresPerIp, lockSeconds } = this.config.auth;
    return returnedRows<{ key: string }>(
      await this.dataSource.query(
        // Both rows locked in key order first (the account's 'a:' before the address's 'i:'), as begin()'s
        // insert takes them: in scan order, two attempts could each hold one and wait for the other.
        `UPDATE login_throttle
          SET locked_until = now() + make_interval(secs => $4), failures = 0, window_started_at = now()
        WHERE key IN (SELECT key FROM login_throttle WHERE key IN ($1, $3) ORDER BY key FOR UPDATE)
          AND ((key = $1 AND failures >= $2) OR (key = $3 AND failures >= $5))
          AND (locked_until IS NULL OR locked_until <= now())
        RETURNING key`,
        [keys.account, maxFailuresPerAccount, keys.ip, lockSeconds, maxFailuresPerIp],
      ),
    );
  }

  /** Removes rows whose window and lock are both over. */
  async prune(): Promise<number> {
    const rows = returnedRows(
      await this.dataSource.query(
        // In key order, skipping rows a sign-in holds: never one row each with an attempt's begin().
        `DELETE FROM login_throttle
        WHERE key IN (SELECT key FROM login_throttle
                       WHERE window_started_at < now() - make_interval(secs => $1)
                         AND (locked_until IS NULL OR locked_until < now())
                       ORDER BY key FOR UPDATE SKIP LOCKED)
        RETURNING key`,
        [this.config.auth.failureWindowSeconds],
      ),
    );
    return rows.length;
  }
}

/**
 * The address a client's failures count against: an IPv4 address as it is (an IPv4-mapped IPv6 one too), an
 * IPv6 address by its /64 network. One end site usually holds a whole /64, so counting per address would give
 * one client 2^64 separate counters.
 */
export function throttleAddress(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  const address = ip.split('%')[0];
  if (!isIPv6(address)) return ip;
  const [left, right] = address.includes('::') ? address.split('::') : [address, undefined];
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  // An embedded IPv4 tail is two groups; only the first four groups matter here.
  const tailGroups = tail.length + (tail.at(-1)?.includes('.') ? 1 : 0);
  const groups =
    right === undefined
      ? head
      : [...head, ...new Array<string>(8 - head.length - tailGroups).fill('0'), ...tail];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
