import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

// Validated once at boot: a bad or missing value stops the start with a message that names the variable.

const boolFlag = z.enum(['0', '1']).optional();
const port = z.coerce.number().int().min(0).max(65535);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  HAVEN_DATA_DIR: z.string().min(1).default('./data'),
  HAVEN_EMBEDDED_PG_PORT: port.default(54329),
  HAVEN_DEMO: boolFlag,
  HAVEN_DEMO_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  HAVEN_MASTER_KEY: z.string().min(1).optional(),
  HAVEN_MASTER_KEY_FILE: z.string().min(1).optional(),
  HAVEN_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  HAVEN_BODY_LIMIT_KB: z.coerce.number().int().min(1).max(10240).default(100),
  HAVEN_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600000).default(10000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RawEnv = z.infer<typeof envSchema>;

export interface AppConfig {
  readonly env: RawEnv['NODE_ENV'];
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly logLevel: RawEnv['LOG_LEVEL'];
  readonly dataDir: string;
  readonly bodyLimitBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly database: {
    /** Absent: start the embedded PostgreSQL under dataDir. */
    readonly url?: string;
    readonly embeddedPort: number;
    readonly poolSize: number;
  };
  readonly demo: {
    readonly enabled: boolean;
    readonly password?: string;
  };
  readonly keys: {
    readonly masterKey?: string;
    readonly masterKeyFile?: string;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
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
  if (e.NODE_ENV === 'production') {
    if (!e.HAVEN_MASTER_KEY && !e.HAVEN_MASTER_KEY_FILE) {
      problems.push('HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE: required when NODE_ENV=production');
    }
    if (e.HAVEN_DEMO === '1')
      problems.push('HAVEN_DEMO: demo data cannot be enabled when NODE_ENV=production');
  }
  if (e.HAVEN_MASTER_KEY && e.HAVEN_MASTER_KEY_FILE) {
    problems.push('HAVEN_MASTER_KEY_FILE: set either HAVEN_MASTER_KEY or HAVEN_MASTER_KEY_FILE, not both');
  }
  if (problems.length) throw new ConfigError(problems);

  const embedded = !e.DATABASE_URL;
  return {
    env: e.NODE_ENV,
    production: e.NODE_ENV === 'production',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir: isAbsolute(e.HAVEN_DATA_DIR) ? e.HAVEN_DATA_DIR : resolve(cwd, e.HAVEN_DATA_DIR),
    bodyLimitBytes: e.HAVEN_BODY_LIMIT_KB * 1024,
    shutdownTimeoutMs: e.HAVEN_SHUTDOWN_TIMEOUT_MS,
    database: { url: e.DATABASE_URL, embeddedPort: e.HAVEN_EMBEDDED_PG_PORT, poolSize: e.HAVEN_DB_POOL_SIZE },
    demo: {
      // Demo data is seeded by default on the embedded database only (api-contract "Running").
      enabled:
        e.HAVEN_DEMO === '1' || (e.HAVEN_DEMO === undefined && embedded && e.NODE_ENV !== 'production'),
      password: e.HAVEN_DEMO_PASSWORD,
    },
    keys: { masterKey: e.HAVEN_MASTER_KEY, masterKeyFile: e.HAVEN_MASTER_KEY_FILE },
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
