import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isIPv6 } from 'node:net';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { returnedRows } from '../database/pg-errors';

export interface ThrottleKeys {
  /** The account's (a sign-in's: the typed username, from every address) or the user's step-ups'. */
  readonly account: string;
  /**
   * A sign-in's: the typed username from this address (IPv6: its /48). Its lower limit locks the account from
   * here; the account's own, higher, from everywhere: a stranger who knows a username does not lock its user
   * out from the office with a handful of guesses.
   */
  readonly accountHere?: string;
  readonly ip: string;
  /**
   * An IPv6 client's /48 (a site's usual allocation, 65,536 /64s): counted too, with a higher limit, so that a
   * client rotating through its /64s does not get a fresh count with each. None for IPv4.
   */
  readonly net?: string;
  /**
   * Only the account's key refuses an attempt (a step-up's): the address's keys count its failures, for the
   * sign-ins from there, but their locks do not refuse it.
   */
  readonly accountDecides?: boolean;
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
 * says nothing about whether the account exists) from each address and from all together, and per client IP
 * (and IPv6 /48) in PostgreSQL, so that every instance shares them, and locks a key for a while once it
 * reaches its limit. The account's limit from one address is low (HAVEN_LOGIN_MAX_FAILURES, 5) and from
 * everywhere high (HAVEN_LOGIN_ACCOUNT_MAX_FAILURES, 50): whoever knows a username (they are predictable)
 * locks it from their own address at once, but must guess from ten addresses to lock its user out at the
 * office, where a lock with 15-minute tokens stops the day's work. Keys are HMACs under a key derived from
 * the master secret (PurposeKeys.throttleKeyOf): a password typed into the username field, or a client's IP, is
 * never stored as such, and a dump of the table alone does not let anyone test guesses of them (a plain
 * SHA-256 could be tried at billions of guesses a second).
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly purposeKeys: PurposeKeys,
  ) {}

  keysFor(username: string, ip: string): ThrottleKeys {
    const name = username.trim().toLowerCase();
    return {
      account: `a:${this.keyOf(name)}`,
      // An IPv6 client by its /48, a site's allocation (a /64 each would let one site guess from ten of its own).
      accountHere: `b:${this.keyOf(`${name}\n${throttleNetwork(ip) ?? throttleAddress(ip)}`)}`,
      ...this.addressKeys(ip),
    };
  }

  /**
   * The keys of a signed-in user's step-up (ReauthenticationService): the address's, as at sign-in, and one of
   * the user's own instead of the account's sign-in key, which alone refuses a step-up (`accountDecides`).
   * Wrong sign-ins by anyone who knows the username, which lock the account's sign-in, or by anyone behind the
   * same address (an office's NAT: thirty wrong sign-ins on made-up names lock it), then do not keep its
   * signed-in user from stepping up (to open emergency access, in an emergency); a stolen token's guesses lock
   * its step-ups, not its owner's sign-in, and still count on the address, for the sign-ins from there. ('c:' sorts before
   * the address's 'i:', as 'a:' does: the order every statement here takes the two rows in.)
   */
  reauthKeysFor(userId: string, ip: string): ThrottleKeys {
    return { account: `c:${this.keyOf(userId)}`, ...this.addressKeys(ip), accountDecides: true };
  }

  private keyOf(text: string): string {
    return this.purposeKeys.throttleKeyOf(text);
  }

  /** The address's key, and for IPv6 its /48's. */
  private addressKeys(ip: string): Pick<ThrottleKeys, 'ip' | 'net'> {
    const network = throttleNetwork(ip);
    return {
      ip: `i:${this.keyOf(throttleAddress(ip))}`,
      ...(network ? { net: `n:${this.keyOf(network)}` } : {}),
    };
  }

  /** The rows among `rows` whose lock refuses an attempt with `keys` (all, or the account's alone). */
  private refusing<T extends { key: string }>(keys: ThrottleKeys, rows: readonly T[]): T[] {
    return keys.accountDecides ? rows.filter((r) => r.key === keys.account) : [...rows];
  }

  /**
   * A key's limit: the account's from this address (or the user's step-ups'), the account's from everywhere,
   * the address's, or its network's.
   */
  private limitOf(keys: ThrottleKeys, key: string): number {
    const { maxFailuresPerAccount, maxFailuresPerAccountTotal, maxFailuresPerIp, maxFailuresPerNetwork } =
      this.config.auth;
    if (key === keys.accountHere) return maxFailuresPerAccount;
    if (key === keys.account) return keys.accountHere ? maxFailuresPerAccountTotal : maxFailuresPerAccount;
    return key === keys.ip ? maxFailuresPerIp : maxFailuresPerNetwork;
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
    const { failureWindowSeconds } = this.config.auth;
    // A refused attempt counts nowhere: a locked address must not go on filling accounts' counts (one address
    // could then lock every account), nor a locked account its address's (a shared NAT would lock everyone).
    const already = await this.locks(keys);
    if (already.seconds > 0) return already;
    // In key order (the account's 'a:' or 'c:', the account's from here 'b:', then the address's 'i:', then its
    // network's 'n:'): the order every statement here takes them in.
    const rows = await this.dataSource.query<(LockRow & { failures: number })[]>(
      `INSERT INTO login_throttle AS t (key, failures, window_started_at)
       SELECT k, 1, now() FROM unnest($1::text[]) AS k ORDER BY k
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.locked_until > now() THEN t.failures
                         WHEN t.window_started_at < now() - make_interval(secs => $2) THEN 1
                         ELSE t.failures + 1 END,
         window_started_at = CASE WHEN t.locked_until > now() THEN t.window_started_at
                                  WHEN t.window_started_at < now() - make_interval(secs => $2) THEN now()
                                  ELSE t.window_started_at END
       RETURNING key, failures, ${LOCK_COLUMNS}`,
      [keyList(keys), failureWindowSeconds],
    );
    // Locked by another attempt since the look above.
    const lockedMeanwhile = lockOf(this.refusing(keys, rows));
    if (lockedMeanwhile.seconds > 0) return lockedMeanwhile;
    const over = this.refusing(keys, rows).some((r) => r.failures > this.limitOf(keys, r.key));
    if (!over) return NOT_LOCKED;
    const lockedNow = lockOf(this.refusing(keys, await this.lockReached(keys)));
    // Another attempt over the limit locked the key first: its lock is the one that refuses this attempt.
    return lockedNow.seconds > 0 ? lockedNow : this.locks(keys);
  }

  /** The locks on the account's and the address's keys now (those that refuse an attempt with `keys`). */
  private async locks(keys: ThrottleKeys): Promise<ThrottleLock> {
    return lockOf(
      this.refusing(
        keys,
        await this.dataSource.query<LockRow[]>(
          `SELECT key, ${LOCK_COLUMNS} FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
          [keyList(keys)],
        ),
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
   * A successful attempt: clears the account's counts (unless locked meanwhile), and gives the IP back
   * the attempt `begin` counted (one
   * valid account must not reset the IP's count, nor a NAT's sign-ins add up to a lock).
   */
  async recordSuccess(keys: ThrottleKeys): Promise<void> {
    // One row per statement, in key order: a statement that holds one key's row while it waits for another's
    // could deadlock with another attempt's begin() (which locks them in key order).
    // Not a lock set meanwhile: wrong guesses that locked the account while this attempt's password was being
    // checked keep it locked (this success would otherwise give the guessing a fresh window).
    for (const key of [keys.account, ...(keys.accountHere ? [keys.accountHere] : [])].sort()) {
      await this.dataSource.query(
        `DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())`,
        [key],
      );
    }
    await this.recordPasswordOnly(keys);
  }

  /**
   * The right password of a two-factor account, sent without its code (the first of a two-step sign-in): gives
   * the IP back the attempt `begin` counted, as a success does (an office's two-step sign-ins behind one NAT must
   * not add up to a lock), and keeps it on the account's count, which only a sign-in with the code clears (else
   * whoever has the password could clear it between guesses of the code).
   */
  async recordPasswordOnly(keys: ThrottleKeys): Promise<void> {
    // One row per statement, as recordSuccess (the address's, then its network's).
    for (const key of keys.net ? [keys.ip, keys.net] : [keys.ip]) {
      await this.dataSource.query(
        `UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1`,
        [key],
      );
    }
  }

  /** Locks each key (not locked yet) whose count reached its limit; returns the keys it locked, with their locks. */
  private async lockReached(keys: ThrottleKeys): Promise<LockRow[]> {
    const list = keyList(keys);
    return returnedRows<LockRow>(
      await this.dataSource.query(
        // The rows locked in key order first, as begin()'s insert takes them: in scan order, two attempts
        // could each hold one and wait for the other.
        `UPDATE login_throttle t
          SET locked_until = now() + make_interval(secs => $3), failures = 0, window_started_at = now()
         FROM unnest($1::text[], $2::int[]) AS l(key, max_failures)
        WHERE t.key = l.key
          AND t.key IN (SELECT key FROM login_throttle WHERE key = ANY($1) ORDER BY key FOR UPDATE)
          AND t.failures >= l.max_failures
          AND (t.locked_until IS NULL OR t.locked_until <= now())
        RETURNING t.key, ${LOCK_COLUMNS}`,
        [list, list.map((k) => this.limitOf(keys, k)), this.config.auth.lockSeconds],
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

/** The keys of an attempt, in the order every statement takes their rows (ascending). */
function keyList(keys: ThrottleKeys): string[] {
  return [
    keys.account,
    ...(keys.accountHere ? [keys.accountHere] : []),
    keys.ip,
    ...(keys.net ? [keys.net] : []),
  ].sort();
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

/** An IPv6 address's /48 network (`2001:db8:aa::/48`), or null for IPv4 (and IPv4-mapped IPv6). */
export function throttleNetwork(ip: string): string | null {
  const net64 = throttleAddress(ip);
  if (!net64.endsWith('::/64')) return null;
  return `${net64.slice(0, -'::/64'.length).split(':').slice(0, 3).join(':')}::/48`;
}
