import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isIPv6 } from 'node:net';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PurposeKeys } from '../crypto';
import { returnedRows } from '../database/pg-errors';
import { canonicalUsername } from './dto/user.dto';

/** What a counter is: the attempt's account or user, or its client's address or network. */
export type ThrottleCounterName = 'account' | 'accountHere' | 'stepUps' | 'address' | 'network';

/** One count an attempt is counted on. */
export interface ThrottleCounter {
  readonly name: ThrottleCounterName;
  /** Its row in `login_throttle` (an HMAC, prefixed by what it counts: 'a:', 'b:', 'c:', 'i:', 'n:'). */
  readonly key: string;
  /** The failures in a window that lock it. */
  readonly limit: number;
  /**
   * Its lock refuses the attempt. A step-up's address and network count its failures, for the sign-ins from
   * there, but their locks do not refuse it (an office's NAT locked by others' wrong sign-ins must not keep its
   * signed-in users from opening emergency access).
   */
  readonly refuses: boolean;
  /**
   * What a right password does to it: `clear` (an account's or user's count: its guesses start afresh) or
   * `give_back` (an address's: the attempt `begin` counted is returned, so one valid account does not reset an
   * address's count, nor a NAT's sign-ins add up to a lock).
   */
  readonly onSuccess: 'clear' | 'give_back';
}

/**
 * The counts one attempt (a sign-in or a step-up) is counted on, in key order: the order every statement here
 * takes their rows in (two attempts that took them in different orders could deadlock).
 */
export class ThrottleAttempt {
  readonly counters: readonly ThrottleCounter[];

  constructor(counters: readonly ThrottleCounter[]) {
    this.counters = [...counters].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The rows' keys, in key order. */
  get keys(): string[] {
    return this.counters.map((c) => c.key);
  }

  /**
   * The named counter's key (throws when the attempt has none: an IPv4 client has no network's). For the tests
   * and for whoever inspects `login_throttle` by hand: the service itself goes by `counters`.
   */
  keyOf(name: ThrottleCounterName): string {
    const counter = this.counters.find((c) => c.name === name);
    if (!counter) throw new Error(`no ${name} counter in this attempt`);
    return counter.key;
  }

  limitOf(key: string): number {
    return this.counters.find((c) => c.key === key)!.limit;
  }

  /** The rows among `rows` whose counter's lock refuses the attempt. */
  refusing<T extends { key: string }>(rows: readonly T[]): T[] {
    return rows.filter((r) => this.counters.some((c) => c.key === r.key && c.refuses));
  }

  /** The keys a right password does `what` to. */
  keysOn(what: ThrottleCounter['onSuccess']): string[] {
    return this.counters.filter((c) => c.onSuccess === what).map((c) => c.key);
  }
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

  /**
   * A sign-in's counts: the typed username's from everywhere (a high limit: locks the account everywhere) and
   * from this address (IPv6: its /48; the low limit: whoever knows a username locks it from their own address
   * at once, not its user at the office), the address's and, for IPv6, its /48's. Every lock refuses it.
   */
  keysFor(username: string, ip: string): ThrottleAttempt {
    const { maxFailuresPerAccount, maxFailuresPerAccountTotal } = this.config.auth;
    const name = canonicalUsername(username);
    const here = throttleNetwork(ip) ?? throttleAddress(ip);
    return new ThrottleAttempt([
      {
        name: 'account',
        key: this.accountKeyOf(name),
        limit: maxFailuresPerAccountTotal,
        refuses: true,
        onSuccess: 'clear',
      },
      {
        name: 'accountHere',
        key: `b:${this.keyOf(`${name}\n${here}`)}`,
        limit: maxFailuresPerAccount,
        refuses: true,
        onSuccess: 'clear',
      },
      ...this.addressCounters(ip, true),
    ]);
  }

  /**
   * A signed-in user's step-up's counts (ReauthenticationService): the user's own, instead of the account's
   * sign-in counts, which alone refuses it, and the address's, as at sign-in, which count its failures for the
   * sign-ins from there without refusing it. Wrong sign-ins by anyone who knows the username (which lock the
   * account's sign-in) or by anyone behind the same address (an office's NAT: thirty wrong sign-ins on made-up
   * names lock it) then do not keep its signed-in user from stepping up (to open emergency access, in an
   * emergency); a stolen token's guesses lock its step-ups, not its owner's sign-in.
   */
  reauthKeysFor(userId: string, ip: string): ThrottleAttempt {
    return new ThrottleAttempt([
      {
        name: 'stepUps',
        key: `c:${this.keyOf(userId)}`,
        limit: this.config.auth.maxFailuresPerAccount,
        refuses: true,
        onSuccess: 'clear',
      },
      ...this.addressCounters(ip, false),
    ]);
  }

  /** The account's count from everywhere (`a:`), by its username as typed at sign-in once trimmed and lower-cased. */
  private accountKeyOf(name: string): string {
    return `a:${this.keyOf(name)}`;
  }

  /**
   * Lifts the account's lock from everywhere and clears its count (an administrator's or the operator's reset of
   * its password, in that change's transaction): wrong guesses from a few addresses by whoever knows the username
   * (they are predictable) would otherwise keep its user out, with nothing in the application to end it. Its
   * counts from each address (`b:`) stay: they lock the guessers' addresses, not the user's.
   */
  async clearAccount(username: string, m: EntityManager): Promise<void> {
    await m.query(`DELETE FROM login_throttle WHERE key = $1`, [
      this.accountKeyOf(canonicalUsername(username)),
    ]);
  }

  private keyOf(text: string): string {
    return this.purposeKeys.throttleKeyOf(text);
  }

  /** The address's count, and for IPv6 its /48's (a client rotating through its /64s counts on it too). */
  private addressCounters(ip: string, refuses: boolean): ThrottleCounter[] {
    const { maxFailuresPerIp, maxFailuresPerNetwork } = this.config.auth;
    const network = throttleNetwork(ip);
    return [
      {
        name: 'address',
        key: `i:${this.keyOf(throttleAddress(ip))}`,
        limit: maxFailuresPerIp,
        refuses,
        onSuccess: 'give_back',
      },
      ...(network
        ? [
            {
              name: 'network' as const,
              key: `n:${this.keyOf(network)}`,
              limit: maxFailuresPerNetwork,
              refuses,
              onSuccess: 'give_back' as const,
            },
          ]
        : []),
    ];
  }

  /**
   * Takes an attempt before its password is checked: counts it on every counter at once, as a failure until
   * `recordSuccess` gives it back. Returns the seconds to wait (0: go on) and the keys that refuse it, each with
   * the end of its lock. A refusing key already locked refuses without counting; an attempt beyond a refusing
   * key's limit locks it and is refused. Counting first is what holds the limit under a burst: checking the lock
   * and counting only after a password hash (~0.1 s) let every request that arrived before the fifth failure was
   * written through, thousands in one window.
   */
  async begin(attempt: ThrottleAttempt): Promise<ThrottleLock> {
    const { failureWindowSeconds } = this.config.auth;
    // A refused attempt counts nowhere: a locked address must not go on filling accounts' counts (one address
    // could then lock every account), nor a locked account its address's (a shared NAT would lock everyone).
    const already = await this.locks(attempt);
    if (already.seconds > 0) return already;
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
      [attempt.keys, failureWindowSeconds],
    );
    const refusing = attempt.refusing(rows);
    // Locked by another attempt since the look above.
    const lockedMeanwhile = lockOf(refusing);
    if (lockedMeanwhile.seconds > 0) return lockedMeanwhile;
    if (!refusing.some((r) => r.failures > attempt.limitOf(r.key))) return NOT_LOCKED;
    const lockedNow = lockOf(attempt.refusing(await this.lockReached(attempt)));
    // Another attempt over the limit locked the key first: its lock is the one that refuses this attempt.
    return lockedNow.seconds > 0 ? lockedNow : this.locks(attempt);
  }

  /** The locks now on the attempt's keys that refuse it. */
  private async locks(attempt: ThrottleAttempt): Promise<ThrottleLock> {
    const rows = await this.dataSource.query<LockRow[]>(
      `SELECT key, ${LOCK_COLUMNS} FROM login_throttle WHERE key = ANY($1) AND locked_until > now()`,
      [attempt.keys],
    );
    return lockOf(attempt.refusing(rows));
  }

  /**
   * Settles a failed attempt (already counted by `begin`): locks each key whose count reached its limit.
   * Returns true when it locked one that refuses the attempt (its next try is refused); a step-up's last
   * allowed failure from an office's address locks the address for sign-ins, not the user's step-ups: false.
   */
  async recordFailure(attempt: ThrottleAttempt): Promise<boolean> {
    return attempt.refusing(await this.lockReached(attempt)).length > 0;
  }

  /**
   * A successful attempt: clears the account's or user's counts (unless locked meanwhile), and gives the
   * address the attempt `begin` counted.
   */
  async recordSuccess(attempt: ThrottleAttempt): Promise<void> {
    // One row per statement, in key order: a statement that holds one key's row while it waits for another's
    // could deadlock with another attempt's begin() (which locks them in key order).
    // Not a lock set meanwhile: wrong guesses that locked the account while this attempt's password was being
    // checked keep it locked (this success would otherwise give the guessing a fresh window).
    for (const key of attempt.keysOn('clear')) {
      await this.dataSource.query(
        `DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())`,
        [key],
      );
    }
    await this.recordPasswordOnly(attempt);
  }

  /**
   * The right password of a two-factor account, sent without its code (the first of a two-step sign-in): gives
   * the address back the attempt `begin` counted, as a success does (an office's two-step sign-ins behind one NAT
   * must not add up to a lock), and keeps it on the account's count, which only a sign-in with the code clears
   * (else whoever has the password could clear it between guesses of the code).
   */
  async recordPasswordOnly(attempt: ThrottleAttempt): Promise<void> {
    await this.giveBackOn(attempt.keysOn('give_back'));
  }

  /**
   * An attempt that was not decided (its two-factor code could not be checked here: a secret this instance cannot
   * open, the database gone): gives every key the attempt `begin` counted, so that a user retrying through a
   * broken instance is not locked out for its fault. Only after the right password, before any code was compared:
   * nothing was tried that the count exists to limit.
   */
  async giveBack(attempt: ThrottleAttempt): Promise<void> {
    await this.giveBackOn(attempt.keys);
  }

  /** Gives each of `keys` (in key order) the attempt `begin` counted. */
  private async giveBackOn(keys: readonly string[]): Promise<void> {
    // One row per statement, in key order, as recordSuccess.
    for (const key of keys) {
      await this.dataSource.query(
        `UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1`,
        [key],
      );
    }
  }

  /** Locks each key (not locked yet) whose count reached its limit; returns the keys it locked, with their locks. */
  private async lockReached(attempt: ThrottleAttempt): Promise<LockRow[]> {
    const keys = attempt.keys;
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
        [keys, keys.map((k) => attempt.limitOf(k)), this.config.auth.lockSeconds],
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

/** An IPv6 address's /48 network (`2001:db8:aa::/48`), or null for IPv4 (and IPv4-mapped IPv6). */
export function throttleNetwork(ip: string): string | null {
  const net64 = throttleAddress(ip);
  if (!net64.endsWith('::/64')) return null;
  return `${net64.slice(0, -'::/64'.length).split(':').slice(0, 3).join(':')}::/48`;
}
