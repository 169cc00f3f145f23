import { BlockList, isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { isCryptoError } from '../crypto/crypto.errors';
import { KEK_ID } from '../crypto/keyring';

// Validated once at boot: a bad or missing value stops the start with a message that names the variable.

const boolFlag = z.enum(['0', '1']).optional();

/** A KEK version allowed missing: `kekId` null for this instance's own KEK. */
export interface MissingKekExcuse {
  readonly kekId: string | null;
  readonly version: number;
}

/**
 * One KEK version of HAVEN_ALLOW_MISSING_KEK_VERSIONS: `3` (version 3 of this instance's own KEK, as its keyring
 * names it) or `old-kek:2` (of a KEK by another name, e.g. a keyring the database used before this one); null
 * when the item is neither.
 */
function missingKekExcuse(item: string): MissingKekExcuse | null {
  const at = item.indexOf(':');
  const kekId = at < 0 ? null : item.slice(0, at);
  const version = item.slice(at + 1);
  return /^\d{1,9}$/.test(version) && (kekId === null || KEK_ID.test(kekId))
    ? { kekId, version: Number(version) }
    : null;
}

const port = z.coerce.number().int().min(1).max(65535);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_APP_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  HAVEN_DATA_DIR: z.string().min(1).default('./data'),
  HAVEN_SEARCH_PER_MINUTE: z.coerce.number().int().min(1).max(10000).default(30),
  HAVEN_CORS_ORIGINS: z
    .string()
    .regex(/^https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*$/, 'must be a comma-separated list of http(s) origins')
    .optional(),
  HAVEN_TRUST_PROXY: z
    .string()
    .refine(
      (v) =>
        v.split(',').every((item) => {
          if (['loopback', 'linklocal', 'uniquelocal'].includes(item)) return true;
          const [address, bits, extra] = item.split('/');
          if (extra !== undefined || isIP(address) === 0) return false;
          if (bits === undefined) return true;
          if (!/^\d{1,3}$/.test(bits) || Number(bits) > (isIP(address) === 4 ? 32 : 128)) return false;
          // /0 would be every address: refused, like `true`; so is an IPv6 range holding every IPv4-mapped
          // address (`::ffff:0.0.0.0/96`, `::/64`), which trusts every IPv4 client.
          return Number(bits) >= 1 && !holdsEveryIPv4(address, Number(bits));
        }),
      'must list the proxies: IP addresses or CIDR ranges, or loopback / linklocal / uniquelocal, comma-separated ' +
        '(never every address)',
    )
    .optional(),
  HAVEN_EMBEDDED_PG_PORT: port.default(54329),
  HAVEN_DEMO: boolFlag,
  HAVEN_DEMO_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  HAVEN_MASTER_KEY: z.string().min(1).optional(),
  HAVEN_MASTER_KEY_FILE: z.string().min(1).optional(),
  HAVEN_ALLOW_KEY_CHANGE: boolFlag,
  HAVEN_ALLOW_NEWER_SCHEMA: boolFlag,
  HAVEN_ALLOW_MISSING_KEK_VERSIONS: z
    .string()
    .transform((value, ctx) => {
      const excuses = value.split(',').map(missingKekExcuse);
      if (excuses.every((e) => e !== null)) return excuses;
      ctx.addIssue({
        code: 'custom',
        message:
          "must be KEK versions, comma-separated: a number (of this keyring's KEK) or <kekId>:<number> (e.g. 3, 3,5 or old-kek:2)",
      });
      return z.NEVER;
    })
    .optional(),
  HAVEN_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  HAVEN_DB_PREPARED_STATEMENTS: z.enum(['0', '1']).default('1'),
  HAVEN_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  HAVEN_BODY_LIMIT_KB: z.coerce.number().int().min(1).max(10240).default(256),
  HAVEN_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600000).default(10000),
  HAVEN_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(900),
  HAVEN_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  HAVEN_LOGIN_ACCOUNT_MAX_FAILURES: z.coerce.number().int().min(1).max(10000).optional(),
  HAVEN_LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(10000).default(30),
  HAVEN_LOGIN_NETWORK_MAX_FAILURES: z.coerce.number().int().min(1).max(100000).default(240),
  HAVEN_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86400).default(900),
  HAVEN_LOGIN_LOCK_SECONDS: z.coerce.number().int().min(1).max(86400).default(900),
  HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES: z.coerce.number().int().min(1).max(525600).default(120),
  HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES: z.coerce.number().int().min(1).max(525600).default(720),
  HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES: z.coerce.number().int().min(1).max(525600).default(7200),
  HAVEN_BREAK_GLASS_MINUTES: z.coerce.number().int().min(1).max(1440).default(120),
  HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86400).default(300),
  HAVEN_AUDIT_VERIFY_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  HAVEN_AUDIT_COUNT_LIMIT: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RawEnv = z.infer<typeof envSchema>;

export interface AppConfig {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly logLevel: RawEnv['LOG_LEVEL'];
  readonly dataDir: string;
  readonly bodyLimitBytes: number;
  /** Origins allowed by CORS; empty = no cross-origin access. */
  readonly corsOrigins: readonly string[];
  /** Proxies whose X-Forwarded-For is believed (Express `trust proxy`); empty: the socket's peer is the client. */
  readonly trustProxy: readonly string[];
  /** Case searches allowed per account and minute (per instance); over it: 429. */
  readonly searchPerMinute: number;
  readonly shutdownTimeoutMs: number;
  readonly database: {
    /** Absent: start the embedded PostgreSQL under dataDir. Migrations run with it (the schema owner). */
    readonly url?: string;
    /**
     * The role the running service connects as (a member of `haven_app`: no UPDATE/DELETE on the access log).
     * Absent with the embedded server: Haven provisions `haven_app_login` itself.
     */
    readonly appUrl?: string;
    readonly embeddedPort: number;
    readonly poolSize: number;
    /** HAVEN_DB_PREPARED_STATEMENTS: name parameterised statements (off behind a pooler that cannot track them). */
    readonly preparedStatements: boolean;
    /**
     * HAVEN_DB_STATEMENT_TIMEOUT_MS: the longest a statement of the service's pool may run (0: no limit), so
     * that no request holds a connection for long (a national report over decades, a page a million deep).
     * The access-log verification lifts it for its own long read.
     */
    readonly statementTimeoutMs: number;
    /**
     * HAVEN_ALLOW_NEWER_SCHEMA=1: start although a newer release applied a migration this build does not know and
     * cannot run with (listed in schema_requirements; logged as an error); otherwise that start is refused. Other
     * migrations this build does not know only give a warning.
     */
    readonly allowNewerSchema: boolean;
  };
  readonly demo: {
    readonly enabled: boolean;
    readonly password?: string;
  };
  readonly keys: {
    readonly masterKey?: string;
    readonly masterKeyFile?: string;
    /** HAVEN_ALLOW_KEY_CHANGE=1: start although the newest checkpoint was signed with other keys. */
    readonly allowChange: boolean;
    /**
     * HAVEN_ALLOW_MISSING_KEK_VERSIONS=3,5 (or old-kek:2): start although live data keys are wrapped with these
     * KEK versions, which this instance lacks (lost for good: their records answer 503), logging each version
     * and count. Any other version missing still refuses the start.
     */
    readonly allowMissingKekVersions: readonly MissingKekExcuse[];
  };
  readonly referrals: {
    /** Response deadline of a referral by urgency, in minutes (emergency 2 h, urgent 12 h, routine 5 days). */
    readonly deadlinesMinutes: {
      readonly emergency: number;
      readonly urgent: number;
      readonly routine: number;
    };
  };
  readonly breakGlass: {
    /** How long an emergency (break-glass) grant lasts, in minutes; 2 hours by default. */
    readonly minutes: number;
  };
  readonly audit: {
    /** How often a signed access-log checkpoint is issued when the log changed; 0: on demand and at shutdown only. */
    readonly checkpointIntervalSeconds: number;
    /** Worker threads that verify a large access log in parallel; 1: in one thread (defaultVerifyWorkers). */
    readonly verifyWorkers: number;
    /** The most entries a list of the log counts (`total`; `totalCapped` says there are more). */
    readonly countLimit: number;
  };
  readonly auth: {
    /** Lifetime of an access token (JWT), in seconds; 15 minutes by default. */
    readonly accessTokenTtlSeconds: number;
    /**
     * Failed sign-ins allowed per account from one client address (its /64 for IPv6), and a user's failed
     * step-ups, within the window before a temporary lock.
     */
    readonly maxFailuresPerAccount: number;
    /**
     * Failed sign-ins allowed per account from every address together: whoever knows a username locks its
     * sign-in from their own address with maxFailuresPerAccount, and from everywhere only with this many.
     */
    readonly maxFailuresPerAccountTotal: number;
    /** Failed sign-ins allowed per client IP (IPv6: its /64). */
    readonly maxFailuresPerIp: number;
    /** An IPv6 client's /48: a site's 65,536 /64s, each of which counts as an address of its own. */
    readonly maxFailuresPerNetwork: number;
    readonly failureWindowSeconds: number;
    readonly lockSeconds: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Whether a failure at start is the configuration's: a bad variable, or key material that cannot be used
 * (HAVEN_MASTER_KEY / _FILE, the keyring, one holding another key under a KEK version than the database knows).
 * The service and the command-line tools exit 78 (EX_CONFIG) for it.
 */
export function isMisconfiguration(e: unknown): boolean {
  return (
    e instanceof ConfigError || isCryptoError(e, 'crypto.config') || isCryptoError(e, 'crypto.kek_mismatch')
  );
}

/**
 * What a configuration accepted outside production leaves exposed when other machines can reach the service
 * (HOST not loopback, or a proxy trusted to forward): said at start (main.ts), not refused, so that a developer
 * may still reach a test instance from another machine.
 */
export function exposureWarnings(config: AppConfig): string[] {
  const reachable = !isLoopbackHost(config.host);
  const out: string[] = [];
  if (!config.production && (reachable || config.trustProxy.length > 0)) {
    out.push(
      'NODE_ENV is not production while other machines can reach this instance (HOST or HAVEN_TRUST_PROXY): ' +
        'set NODE_ENV=production for real data, with HAVEN_MASTER_KEY(_FILE) from a secret store',
    );
    if (!config.keys.masterKey && !config.keys.masterKeyFile) {
      out.push(
        'the development keyring is kept in HAVEN_DATA_DIR beside the database: a copy of that directory reads every case',
      );
    }
  }
  // Proxies trusted by a whole range while other machines can reach the service directly: any client in that
  // range chooses, with X-Forwarded-For, the address the access log records and the sign-in throttle counts.
  // Said in production too; the proxies' own addresses are what HAVEN_TRUST_PROXY is for.
  const broad = reachable ? config.trustProxy.filter(isBroadRange) : [];
  if (broad.length > 0) {
    out.push(
      `HAVEN_TRUST_PROXY names whole ranges (${broad.join(', ')}) while HOST ${config.host} is reachable: a ` +
        'client in them that reaches the service directly chooses the address the access log and the sign-in ' +
        'throttle see; name the proxies themselves',
    );
  }
  return out;
}

/**
 * Whether a HAVEN_TRUST_PROXY item names a range wider than a /24 (IPv4, an IPv4-mapped IPv6 range included) or a
 * /64 (IPv6), or a named one.
 */
function isBroadRange(item: string): boolean {
  if (item === 'linklocal' || item === 'uniquelocal') return true;
  const [address, bits] = item.split('/');
  if (bits === undefined) return false;
  if (isIP(address) === 4) return Number(bits) < 24;
  const v4 = mappedIPv4Bits(address, Number(bits));
  return v4 !== null ? v4 < 24 : Number(bits) < 64;
}

/**
 * Whether an IPv6 range holds every IPv4 client: they are matched in their IPv4-mapped form (`::ffff:0.0.0.0/96`,
 * or a range holding that block, such as `::/64`). Node's BlockList matches an IPv4 address against an IPv6 range
 * so, as the proxy check does.
 */
function holdsEveryIPv4(address: string, bits: number): boolean {
  if (isIP(address) !== 6) return false;
  const range = new BlockList();
  range.addSubnet(address, bits, 'ipv6');
  return range.check('0.0.0.0', 'ipv4') && range.check('255.255.255.255', 'ipv4');
}

/**
 * The IPv4 prefix length an IPv4-mapped range written with its dotted tail stands for (`::ffff:10.0.0.0/104` is a
 * /8), or null for any other range (one written in hex is judged as the IPv6 range it is).
 */
function mappedIPv4Bits(address: string, bits: number): number | null {
  return /^::ffff:\d{1,3}(\.\d{1,3}){3}$/i.test(address) && bits >= 96 ? bits - 96 : null;
}

/** Whether HOST only listens on this machine (a loopback address or `localhost`). */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Not misspellings: the test suite's and the benchmarks' variables, and those Kubernetes sets for a Service
 * named `haven` or `database` (HAVEN_SERVICE_HOST, HAVEN_PORT_3000_TCP_ADDR, ...).
 */
const TOOLING_VARIABLE =
  /^HAVEN_(TEST|BENCH|FUZZ)_|^(HAVEN|DATABASE)_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/**
 * The variables set that look like Haven's (`HAVEN_*`, `DATABASE_*`) but that it does not read: most likely
 * misspelled, and then silently without effect (a misspelled HAVEN_TRUST_PROXY makes every client the load
 * balancer; a misspelled DATABASE_URL, outside production, the embedded database with demo data). Names only.
 */
export function unknownVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = new Set(Object.keys(envSchema.shape));
  return Object.keys(env)
    .filter((k) => /^(HAVEN|DATABASE)_/.test(k) && !known.has(k) && !TOOLING_VARIABLE.test(k))
    .sort();
}

/** The warning for unknownVariables(), or null when there are none. */
export function unknownVariablesWarning(env: NodeJS.ProcessEnv = process.env): string | null {
  const unknown = unknownVariables(env);
  return unknown.length === 0
    ? null
    : `${unknown.join(', ')}: not a variable Haven reads (misspelled?); see config/env.example`;
}

/** Parses the environment; throws ConfigError naming every bad variable (never echoing secret values). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  // A more urgent referral is never due later than a less urgent one (raising a referral's urgency, as the law
  // does for a child at risk, must not give it more time).
  if (
    e.HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES > e.HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES ||
    e.HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES > e.HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES
  ) {
    problems.push(
      'HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES, _URGENT_MINUTES, _ROUTINE_MINUTES: each must be at most the ' +
        `next (now ${e.HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES}, ${e.HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES}, ` +
        `${e.HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES})`,
    );
  }
  if (e.NODE_ENV === 'production') {
    if (!e.HAVEN_MASTER_KEY && !e.HAVEN_MASTER_KEY_FILE) {
      problems.push('HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE: required when NODE_ENV=production');
    }
    if (e.HAVEN_DEMO === '1')
      problems.push('HAVEN_DEMO: demo data cannot be enabled when NODE_ENV=production');
  }
  // The demo by default (an embedded database, HAVEN_DEMO unset) has accounts whose password is printed and
  // that sign in without two-factor: on this machine only, unless asked for on a network explicitly.
  const embedded = !e.DATABASE_URL;
  const demoByDefault = e.HAVEN_DEMO === undefined && embedded && e.NODE_ENV !== 'production';
  // A proxy named to be trusted forwards other machines' requests to the loopback address.
  const reachable = !isLoopbackHost(e.HOST)
    ? `HOST: ${e.HOST} is reachable from other machines`
    : e.HAVEN_TRUST_PROXY
      ? "HAVEN_TRUST_PROXY: a proxy forwards other machines' requests"
      : null;
  if (demoByDefault && reachable) {
    problems.push(
      `${reachable}, and the demo (on by default with the embedded database) has known passwords and no ` +
        'two-factor: set HAVEN_DEMO=1 to show the demo there deliberately, or HAVEN_DEMO=0',
    );
  }
  if (e.NODE_ENV === 'production' && e.DATABASE_URL && !e.DATABASE_APP_URL) {
    problems.push(
      'DATABASE_APP_URL: required when NODE_ENV=production with DATABASE_URL (a login role that is a member of ' +
        'haven_app, so that the service cannot change the access log; see README)',
    );
  }
  if (e.DATABASE_APP_URL && !e.DATABASE_URL) {
    problems.push(
      'DATABASE_APP_URL: needs DATABASE_URL (the embedded server provisions its own runtime role)',
    );
  }
  if (e.HAVEN_MASTER_KEY && e.HAVEN_MASTER_KEY_FILE) {
    problems.push('HAVEN_MASTER_KEY_FILE: set either HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE, not both');
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    production: e.NODE_ENV === 'production',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir: isAbsolute(e.HAVEN_DATA_DIR) ? e.HAVEN_DATA_DIR : resolve(cwd, e.HAVEN_DATA_DIR),
    bodyLimitBytes: e.HAVEN_BODY_LIMIT_KB * 1024,
    corsOrigins: e.HAVEN_CORS_ORIGINS?.split(',') ?? [],
    trustProxy: e.HAVEN_TRUST_PROXY?.split(',') ?? [],
    searchPerMinute: e.HAVEN_SEARCH_PER_MINUTE,
    shutdownTimeoutMs: e.HAVEN_SHUTDOWN_TIMEOUT_MS,
    database: {
      url: e.DATABASE_URL,
      appUrl: e.DATABASE_APP_URL,
      embeddedPort: e.HAVEN_EMBEDDED_PG_PORT,
      poolSize: e.HAVEN_DB_POOL_SIZE,
      allowNewerSchema: e.HAVEN_ALLOW_NEWER_SCHEMA === '1',
      preparedStatements: e.HAVEN_DB_PREPARED_STATEMENTS === '1',
      statementTimeoutMs: e.HAVEN_DB_STATEMENT_TIMEOUT_MS,
    },
    demo: {
      // Demo data is seeded by default on the embedded database only (api-contract "Running").
      enabled: e.HAVEN_DEMO === '1' || demoByDefault,
      password: e.HAVEN_DEMO_PASSWORD,
    },
    keys: {
      masterKey: e.HAVEN_MASTER_KEY,
      masterKeyFile: e.HAVEN_MASTER_KEY_FILE,
      allowChange: e.HAVEN_ALLOW_KEY_CHANGE === '1',
      allowMissingKekVersions: e.HAVEN_ALLOW_MISSING_KEK_VERSIONS ?? [],
    },
    referrals: {
      deadlinesMinutes: {
        emergency: e.HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES,
        urgent: e.HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES,
        routine: e.HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES,
      },
    },
    breakGlass: { minutes: e.HAVEN_BREAK_GLASS_MINUTES },
    audit: {
      checkpointIntervalSeconds: e.HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS,
      verifyWorkers: e.HAVEN_AUDIT_VERIFY_WORKERS ?? defaultVerifyWorkers(),
      countLimit: e.HAVEN_AUDIT_COUNT_LIMIT,
    },
    auth: {
      accessTokenTtlSeconds: e.HAVEN_ACCESS_TOKEN_TTL_SECONDS,
      maxFailuresPerAccount: e.HAVEN_LOGIN_MAX_FAILURES,
      // Ten addresses' worth unless set: a limit tuned before it existed (account-wide then) keeps its scale.
      maxFailuresPerAccountTotal: e.HAVEN_LOGIN_ACCOUNT_MAX_FAILURES ?? 10 * e.HAVEN_LOGIN_MAX_FAILURES,
      maxFailuresPerIp: e.HAVEN_LOGIN_IP_MAX_FAILURES,
      maxFailuresPerNetwork: e.HAVEN_LOGIN_NETWORK_MAX_FAILURES,
      failureWindowSeconds: e.HAVEN_LOGIN_WINDOW_SECONDS,
      lockSeconds: e.HAVEN_LOGIN_LOCK_SECONDS,
    },
  };
}

/**
 * Each verification worker keeps about two cores busy (itself and the PostgreSQL backend that feeds it), as
 * one-thread verification does: half the cores, at most 8, and one thread below 4 cores (on 2 cores, two
 * workers were measured no faster, and slower beside a running service: docs/performance.md).
 */
export function defaultVerifyWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(8, Math.floor(cores / 2)));
}

export const APP_CONFIG = Symbol('APP_CONFIG');
