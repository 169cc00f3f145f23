import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import {
  ConfigError,
  defaultVerifyWorkers,
  envSchema,
  exposureWarnings,
  loadConfig,
  unknownVariables,
  unknownVariablesWarning,
} from './config';

describe('loadConfig', () => {
  it("reads the KEK versions allowed missing (a number, of this keyring's KEK, or <kekId>:<number>), and refuses anything else", () => {
    expect(loadConfig({}).keys.allowMissingKekVersions).toEqual([]);
    expect(
      loadConfig({ HAVEN_ALLOW_MISSING_KEK_VERSIONS: '3,old-kek.2024:5' }).keys.allowMissingKekVersions,
    ).toEqual([
      { kekId: null, version: 3 },
      { kekId: 'old-kek.2024', version: 5 },
    ]);
    for (const value of ['1,', 'yes', 'v3', '3;5', ':3', 'Old-Kek:3', 'old-kek:', 'a:b:3', 'old kek:3']) {
      expect(() => loadConfig({ HAVEN_ALLOW_MISSING_KEK_VERSIONS: value })).toThrow(ConfigError);
    }
  });

  it('applies documented defaults', () => {
    const c = loadConfig({}, '/srv/haven');
    expect(c).toMatchObject({
      production: false,
      host: '127.0.0.1',
      port: 3000,
      dataDir: '/srv/haven/data',
      bodyLimitBytes: 256 * 1024,
      database: { url: undefined, embeddedPort: 54329, poolSize: 10 },
      demo: { enabled: true },
    });
  });

  it('locks an account from everywhere after ten addresses’ worth of failures, unless set', () => {
    expect(loadConfig({}).auth).toMatchObject({ maxFailuresPerAccount: 5, maxFailuresPerAccountTotal: 50 });
    // A limit tuned when it was account-wide keeps its scale.
    expect(loadConfig({ HAVEN_LOGIN_MAX_FAILURES: '3' }).auth).toMatchObject({
      maxFailuresPerAccount: 3,
      maxFailuresPerAccountTotal: 30,
    });
    expect(
      loadConfig({ HAVEN_LOGIN_MAX_FAILURES: '3', HAVEN_LOGIN_ACCOUNT_MAX_FAILURES: '12' }).auth
        .maxFailuresPerAccountTotal,
    ).toBe(12);
  });

  it('seeds demo data by default on the embedded database only, and HAVEN_DEMO overrides it', () => {
    const url = 'postgres://u:p@db:5432/haven';
    expect(loadConfig({ DATABASE_URL: url }).demo.enabled).toBe(false);
    expect(loadConfig({ DATABASE_URL: url, HAVEN_DEMO: '1' }).demo.enabled).toBe(true);
    expect(loadConfig({ HAVEN_DEMO: '0' }).demo.enabled).toBe(false);
  });

  it('believes X-Forwarded-For only from the proxies HAVEN_TRUST_PROXY names, never from everyone', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(
      loadConfig({ HAVEN_TRUST_PROXY: '10.0.0.0/8,192.168.1.10,loopback,fd00::/8', HAVEN_DEMO: '0' })
        .trustProxy,
    ).toEqual(['10.0.0.0/8', '192.168.1.10', 'loopback', 'fd00::/8']);
    for (const bad of [
      'true',
      '*',
      '0.0.0.0/0',
      '::/0',
      '0.0.0.0/33',
      '10.0.0.0/8/1',
      'proxy.example',
      '10.0.0.1,',
      // Every IPv4 client, as IPv4-mapped IPv6 addresses (as the proxy check matches them).
      '::ffff:0.0.0.0/96',
      '::ffff:0:0/96',
      '::/64',
      '::/80',
    ]) {
      // Without the demo (which refuses any proxy on its own), so that the list's own rule is what refuses.
      expect(() => loadConfig({ HAVEN_TRUST_PROXY: bad, HAVEN_DEMO: '0' })).toThrow(
        /HAVEN_TRUST_PROXY: must list the proxies/,
      );
    }
    // A mapped address or a narrow mapped range names IPv4 proxies: taken.
    expect(
      loadConfig({ HAVEN_TRUST_PROXY: '::ffff:10.0.0.1,::ffff:10.0.0.0/120,2001:db8::/64', HAVEN_DEMO: '0' })
        .trustProxy,
    ).toEqual(['::ffff:10.0.0.1', '::ffff:10.0.0.0/120', '2001:db8::/64']);
  });

  it('names every bad variable and never echoes secret values', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '99999',
        DATABASE_URL: 'mysql://x',
        LOG_LEVEL: 'loud',
        HAVEN_DEMO_PASSWORD: 'SECRET7',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'HAVEN_DEMO_PASSWORD'])
      expect(message).toContain(name);
    expect(message).not.toContain('SECRET7');
  });

  it('refuses referral deadlines that would give a more urgent referral more time', () => {
    expect(() =>
      loadConfig({
        HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES: '7200',
        HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES: '120',
      }),
    ).toThrow(/HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES.*at most the next \(now 7200, 720, 120\)/);
    expect(() => loadConfig({ HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES: '60' })).toThrow(/at most the next/);
    expect(
      loadConfig({
        HAVEN_REFERRAL_DEADLINE_EMERGENCY_MINUTES: '60',
        HAVEN_REFERRAL_DEADLINE_URGENT_MINUTES: '60',
        HAVEN_REFERRAL_DEADLINE_ROUTINE_MINUTES: '60',
      }).referrals.deadlinesMinutes,
    ).toEqual({ emergency: 60, urgent: 60, routine: 60 });
  });

  it('keeps the default demo (known passwords, no two-factor) off the network unless asked for', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(
      /HOST: 0\.0\.0\.0 is reachable from other machines/,
    );
    expect(loadConfig({ HOST: '0.0.0.0', HAVEN_DEMO: '1' }).demo.enabled).toBe(true);
    expect(loadConfig({ HOST: '0.0.0.0', HAVEN_DEMO: '0' }).demo.enabled).toBe(false);
    expect(loadConfig({ HOST: '127.0.0.1' }).demo.enabled).toBe(true);
    expect(loadConfig({ HOST: 'localhost' }).demo.enabled).toBe(true);
    // A trusted proxy forwards other machines' requests to the loopback address.
    expect(() => loadConfig({ HAVEN_TRUST_PROXY: '127.0.0.1' })).toThrow(
      /HAVEN_TRUST_PROXY: a proxy forwards/,
    );
    expect(loadConfig({ HAVEN_TRUST_PROXY: '127.0.0.1', HAVEN_DEMO: '0' }).demo.enabled).toBe(false);
  });

  /** A production configuration listening on every address, behind the proxies `trustProxy` names. */
  const reachableBehind = (trustProxy: string) =>
    loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      HAVEN_TRUST_PROXY: trustProxy,
      HAVEN_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    });

  it('says what a development configuration leaves exposed once other machines can reach it', () => {
    expect(exposureWarnings(loadConfig({}))).toEqual([]);
    const open = exposureWarnings(loadConfig({ HOST: '0.0.0.0', HAVEN_DEMO: '0' }));
    expect(open).toEqual([
      expect.stringMatching(/NODE_ENV is not production/),
      expect.stringMatching(/development keyring is kept in HAVEN_DATA_DIR beside the database/),
    ]);
    const proxied = exposureWarnings(
      loadConfig({
        HAVEN_TRUST_PROXY: '10.0.0.1',
        HAVEN_DEMO: '0',
        HAVEN_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      }),
    );
    expect(proxied).toEqual([expect.stringMatching(/NODE_ENV is not production/)]);
    const production = loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      HAVEN_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    expect(exposureWarnings(production)).toEqual([]);
    // Proxies trusted by whole ranges on a reachable HOST: any client there picks its recorded address.
    const ranges = reachableBehind('10.0.0.0/8,uniquelocal,192.168.1.10');
    expect(exposureWarnings(ranges)).toEqual([
      expect.stringMatching(/whole ranges \(10\.0\.0\.0\/8, uniquelocal\)/),
    ]);
    // An IPv4-mapped range is as wide as the IPv4 range it maps: ::ffff:10.0.0.0/104 is a /8.
    const mapped = reachableBehind('::ffff:10.0.0.0/104,::ffff:10.1.2.0/124');
    expect(exposureWarnings(mapped)).toEqual([
      expect.stringMatching(/whole ranges \(::ffff:10\.0\.0\.0\/104\)/),
    ]);
    const proxies = reachableBehind('10.1.2.3,10.1.2.0/28');
    expect(exposureWarnings(proxies)).toEqual([]);
  });

  it('refuses port 0 (any free port) for the service and the embedded server: nobody would know where they are', () => {
    expect(() => loadConfig({ PORT: '0' })).toThrow(/PORT/);
    expect(() => loadConfig({ HAVEN_EMBEDDED_PG_PORT: '0' })).toThrow(/HAVEN_EMBEDDED_PG_PORT/);
  });

  it('requires explicit keys and forbids demo data in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u:p@db/haven' })).toThrow(
      /HAVEN_MASTER_KEY/,
    );
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://u:p@db/h',
        HAVEN_MASTER_KEY: 'k',
        HAVEN_DEMO: '1',
      }),
    ).toThrow(/HAVEN_DEMO/);
    const prod = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u:p@db/h',
      DATABASE_APP_URL: 'postgres://app:q@db/h',
      HAVEN_MASTER_KEY_FILE: '/run/secrets/k',
    });
    expect(prod.demo.enabled).toBe(false);
  });

  it('runs the service as a restricted role: DATABASE_APP_URL is required in production with DATABASE_URL', () => {
    const prod = { NODE_ENV: 'production', DATABASE_URL: 'postgres://u:p@db/h', HAVEN_MASTER_KEY: 'k' };
    expect(() => loadConfig(prod)).toThrow(/DATABASE_APP_URL/);
    expect(loadConfig({ ...prod, DATABASE_APP_URL: 'postgres://app:q@db/h' }).database.appUrl).toBe(
      'postgres://app:q@db/h',
    );
    expect(() => loadConfig({ DATABASE_APP_URL: 'postgres://app:q@db/h' })).toThrow(/DATABASE_APP_URL/);
    expect(loadConfig({}).audit.checkpointIntervalSeconds).toBe(300);
    expect(() => loadConfig({ HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS: '-1' })).toThrow(
      /HAVEN_AUDIT_CHECKPOINT_INTERVAL_SECONDS/,
    );
    expect(loadConfig({}).audit.verifyWorkers).toBe(defaultVerifyWorkers(availableParallelism()));
    expect([2, 3, 4, 6, 16, 64].map((cores) => defaultVerifyWorkers(cores))).toEqual([1, 1, 2, 3, 8, 8]);
    expect(loadConfig({ HAVEN_AUDIT_VERIFY_WORKERS: '1' }).audit.verifyWorkers).toBe(1);
    expect(() => loadConfig({ HAVEN_AUDIT_VERIFY_WORKERS: '0' })).toThrow(/HAVEN_AUDIT_VERIFY_WORKERS/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(3000);
  });

  it('every variable it reads is documented in README.md and config/env.example', () => {
    const root = join(__dirname, '..', '..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const example = readFileSync(join(root, 'config', 'env.example'), 'utf8');
    // README groups some as NAME_{A,B}_SUFFIX or NAME_A / NAME_B: expanded before looking.
    const expanded = readme.replace(
      /([A-Z_]*)\{([A-Z_,]+)\}([A-Z_]*)/g,
      (_m, pre: string, alts: string, post: string) =>
        alts
          .split(',')
          .map((a) => `${pre}${a}${post}`)
          .join(' '),
    );
    const undocumented = Object.keys(envSchema.shape).filter(
      (name) => !new RegExp(`\\b${name}\\b`).test(expanded) || !new RegExp(`\\b${name}\\b`).test(example),
    );
    expect(undocumented).toEqual([]);
  });

  it('names the variables that look like its own but that it does not read (misspelled), never their values', () => {
    const env = {
      HAVEN_TRUST_PROXIES: '10.0.0.1',
      DATABASE_URI: 'postgres://u:secret@db/haven',
      HAVEN_TRUST_PROXY: '10.0.0.2',
      DATABASE_URL: 'postgres://u:p@db/haven',
      HAVEN_TEST_ROOT: '/tmp/x', // the test suite's, as HAVEN_BENCH_* and HAVEN_FUZZ_* are the tools'
      // Kubernetes' for a Service named haven: not misspellings.
      HAVEN_SERVICE_HOST: '10.0.0.9',
      HAVEN_SERVICE_PORT: '3000',
      HAVEN_PORT: 'tcp://10.0.0.9:3000',
      HAVEN_PORT_3000_TCP_ADDR: '10.0.0.9',
      PATH: '/usr/bin',
    };
    expect(unknownVariables(env)).toEqual(['DATABASE_URI', 'HAVEN_TRUST_PROXIES']);
    const warning = unknownVariablesWarning(env)!;
    expect(warning).toMatch(/^DATABASE_URI, HAVEN_TRUST_PROXIES: not a variable Haven reads/);
    expect(warning).not.toMatch(/secret|10\.0\.0/);
    expect(unknownVariablesWarning({ HAVEN_DEMO: '0' })).toBeNull();
  });
});
