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

/** Why an attempt is refused: the seconds until the later lock ends, and each locked key with its lock's end. */
export interface ThrottleLock {
  /** 0: not locked. */
  readonly seconds: number;
  /** The locked keys (the account's, the address's or both) and when each lock ends (epoch ms). */
  readonly keys: readonly { readonly key: string; readonly until: number }[];
}

const NOT_LOCKED: ThrottleLock = { seconds: 0, keys: [] };

/** A throttle row's lock as the statements below return it: null columns when the key is not locked. */
interface LockRow {
  key: string;
  seconds: number | null;
  until: string | null;
}
const LOCK_COLUMNS = `CASE WHEN locked_until > now() THEN ceil(extract(epoch FROM locked_until - now()))::int END AS seconds,
       CASE WHEN locked_until > now() THEN floor(extract(epoch FROM locked_until) * 1000)::bigint::text END AS until`;

function lockOf(rows: readonly LockRow[]): ThrottleLock {
  const locked = rows.filter((r) => (r.seconds ?? 0) > 0 && r.until !== null);
  if (locked.length === 0) return NOT_LOCKED;
  return {
    seconds: Math.max(...locked.map((r) => r.seconds!)),
    keys: locked.map((r) => ({ key: r.key, until: Number(r.until) })),
  };
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
   * The keys of a signed-in user's step-up (ReauthenticationService): the address's, as at sign-in, and one of
   * the user's own instead of the account's sign-in key. Wrong sign-ins by anyone who knows the username, which
   * lock the account's sign-in, then do not keep its signed-in user from stepping up (to open emergency access,
   * in an emergency); and a stolen token's guesses lock its step-ups, not its owner's sign-in. ('c:' sorts before
   * the address's 'i:', as 'a:' does: the order every statement here takes the two rows in.)
   */
  reauthKeysFor(userId: string, ip: string): ThrottleKeys {
    return { account: `c:${sha256(userId)}`, ip: `i:${sha256(throttleAddress(ip))}` };
  }

  /**
   * Takes an attempt before its password is checked: counts it on both keys at once, as a failure until
   * `recordSuccess` gives it back. Returns the seconds to wait (0: go on) and the keys that refuse it, each with
   * the end of its lock. A key already locked refuses without counting; an attempt beyond a key's limit locks
   * it and is refused. Counting first is what holds the limit under a burst: checking the lock and counting
   * only after a password hash (~0.1 s) let every request that arrived before the fifth failure was written
   * through, thousands in one window.
   */
  async begin(keys: ThrottleKeys): Promise<ThrottleLock> {
    const { maxFailuresPerAccount, maxFailuresPerIp, failureWindowSeconds } = this.config.auth;
    // A refused attempt counts nowhere: a locked address must not go on filling accounts' counts (one address
    // could then lock every account), nor a locked account its address's (a shared NAT would lock everyone).
    const already = await this.locks(keys);
    if (already.seconds > 0) return already;
    // The account's row, then the address's ('a:' < 'i:'): the order every statement here takes them in.
    const rows = await this.dataSource.query<(LockRow & { failures: number })[]>(
      `INSERT INTO login_throttle AS t (key, failures, window_started_at)
       VALUES ($1, 1, now()), ($2, 1, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.locked_until > now() THEN t.failures
                         WHEN t.window_started_at < now() - make_interval(secs => $3) THEN 1
                         ELSE t.failures + 1 END,
         window_started_at = CASE WHEN t.locked_until > now() THEN t.window_started_at
                                  WHEN t.window_started_at < now() - make_interval(secs => $3) THEN now()
                                  ELSE t.window_started_at END
       RETURNING key, failures, ${LOCK_COLUMNS}`,
      [keys.account, keys.ip, failureWindowSeconds],
    );
    // Locked by another attempt since the look above.
    const lockedMeanwhile = lockOf(rows);
    if (lockedMeanwhile.seconds > 0) return lockedMeanwhile;
    const over = rows.some(
      (r) => r.failures > (r.key === keys.account ? maxFailuresPerAccount : maxFailuresPerIp),
    );
    if (!over) return NOT_LOCKED;
    const lockedNow = lockOf(await this.lockReached(keys));
    // Another attempt over the limit locked the key first: its lock is the one that refuses this attempt.
    return lockedNow.seconds > 0 ? lockedNow : this.locks(keys);
  }

  /** The locks on the account's and the address's keys now. */
  private async locks(keys: ThrottleKeys): Promise<ThrottleLock> {
    return lockOf(
      await this.dataSource.query<LockRow[]>(
        `SELECT key, ${LOCK_COLUMNS} FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
        [[keys.account, keys.ip]],
      ),
    );
  }

  /**
   * Settles a failed attempt (already counted by `begin`); returns true when it locked either key, i.e. when
   * it was the key's last allowed one.
   */
  async recordFailure(keys: ThrottleKeys): Promise<boolean> {
    return (await this.lockReached(keys)).length > 0;
  }

  /**
   * A successful attempt: clears the account's count (unless it was locked meanwhile), and gives the IP back
   * the attempt `begin` counted (one
   * valid account must not reset the IP's count, nor a NAT's sign-ins add up to a lock).
   */
  async recordSuccess(keys: ThrottleKeys): Promise<void> {
    // One row per statement: a statement that holds one key's row while it waits for the other's could deadlock
    // with another attempt's begin() (which locks the account's, then the address's).
    // Not a lock set meanwhile: wrong guesses that locked the account while this attempt's password was being
    // checked keep it locked (this success would otherwise give the guessing a fresh window).
    await this.dataSource.query(
      `DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())`,
      [keys.account],
    );
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

  /** Locks each key (not locked yet) whose count reached its limit; returns the keys it locked, with their locks. */
  private async lockReached(keys: ThrottleKeys): Promise<LockRow[]> {
    const { maxFailuresPerAccount, maxFailuresPerIp, lockSeconds } = this.config.auth;
    return returnedRows<LockRow>(
      await this.dataSource.query(
        // Both rows locked in key order first (the account's 'a:' before the address's 'i:'), as begin()'s
        // insert takes them: in scan order, two attempts could each hold one and wait for the other.
        `UPDATE login_throttle
          SET locked_until = now() + make_interval(secs => $4), failures = 0, window_started_at = now()
        WHERE key IN (SELECT key FROM login_throttle WHERE key IN ($1, $3) ORDER BY key FOR UPDATE)
          AND ((key = $1 AND failures >= $2) OR (key = $3 AND failures >= $5))
          AND (locked_until IS NULL OR locked_until <= now())
        RETURNING key, ${LOCK_COLUMNS}`,
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
