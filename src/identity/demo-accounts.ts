import type { FactoryProvider } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PasswordHasher } from '../crypto/password-hasher';
import type { DemoSeedStep } from '../database/seed/demo-seed';
import type { Role } from './user.entity';

/**
 * One of the demo's accounts while the demo does not run (a database an earlier demo seeded): its password was
 * printed for all (or, for one they made, it was made by whoever held that password), so it neither signs in nor
 * keeps a session (sign-in, the token check), nor counts as an administrator.
 */
export function demoAccountShut(account: { readonly demoAccount: boolean }, config: AppConfig): boolean {
  return account.demoAccount && !config.demo.enabled;
}

/**
 * One of the demo's seeded accounts while the demo runs: they share one password, known to whoever tries the
 * demo, so what would ask for more proof of the person (two-factor, a step-up) is not asked of them. Not an
 * account one of them made (its password is its own). Never in production, where the demo cannot run.
 */
export function demoRelaxed(
  account: { readonly demoAccount: boolean; readonly madeInDemo: boolean },
  config: AppConfig,
): boolean {
  return account.demoAccount && !account.madeInDemo && config.demo.enabled;
}

export interface DemoAccount {
  username: string;
  role: Role;
  wardCodes?: string[];
  /** provider: the organisation's name (seeded by the organizations step). */
  organization?: string;
  /** supervisor: the province. */
  provinceCode?: string;
}

// The accounts of the contract's demo data set (api-contract "Demo data set").
export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  { username: 'admin', role: 'admin' },
  { username: 'ward.longbien', role: 'ward_officer', wardCodes: ['00145'] },
  { username: 'ward.bode', role: 'ward_officer', wardCodes: ['00118'] },
  { username: 'police.longbien', role: 'provider', organization: 'Công an phường Long Biên' },
  { username: 'health.longbien', role: 'provider', organization: 'Trạm y tế phường Long Biên' },
  { username: 'social.hanoi', role: 'provider', organization: 'Trung tâm Công tác xã hội Hà Nội' },
  { username: 'supervisor.hanoi', role: 'supervisor', provinceCode: '01' },
  { username: 'supervisor.haiphong', role: 'supervisor', provinceCode: '31' },
];

export const DEMO_ACCOUNTS_STEP = Symbol('DEMO_ACCOUNTS_STEP');

/**
 * Seeds the demo accounts, flagged `demo_account` (two-factor is not enforced for them while Haven runs in
 * demo mode). The password is HAVEN_DEMO_PASSWORD, or a random one printed once to stderr, apart from the log (JSON lines on stdout).
 */
export function demoAccountsStep(
  hasher: PasswordHasher,
  config: AppConfig,
  print: (text: string) => void = (text) => void process.stderr.write(text),
): DemoSeedStep {
  return {
    name: 'accounts',
    async run(manager: EntityManager): Promise<void> {
      const password = config.demo.password ?? randomBytes(12).toString('base64url');
      for (const a of DEMO_ACCOUNTS) {
        const hash = await hasher.hash(password);
        const [user] = await manager.query<{ id: string }[]>(
          `INSERT INTO users (username, role, password_hash, demo_account, organization_id, province_code)
           VALUES ($1, $2, $3, true,
                   (SELECT id FROM organizations WHERE name = $4 AND retired_at IS NULL ORDER BY created_at LIMIT 1), $5)
           ON CONFLICT (username) DO NOTHING
           RETURNING id`,
          [a.username, a.role, hash, a.organization ?? null, a.provinceCode ?? null],
        );
        if (user && a.wardCodes) {
          await manager.query(
            `INSERT INTO user_communes (user_id, commune_code) SELECT $1, unnest($2::varchar[])`,
            [user.id, a.wardCodes],
          );
        }
      }
      if (!config.demo.password) {
        print(
          `\n  Haven demo accounts (${DEMO_ACCOUNTS.map((a) => a.username).join(', ')})\n` +
            `  password: ${password}\n` +
            '  Shown once, now; to choose it instead, set HAVEN_DEMO_PASSWORD before the first start (with a\n' +
            '  new data directory: it is read only when the demo accounts are made). Two-factor is not enforced\n' +
            '  for demo accounts while Haven runs in demo mode.\n\n',
        );
      }
    },
  };
}

export const demoAccountsStepProvider: FactoryProvider<DemoSeedStep> = {
  provide: DEMO_ACCOUNTS_STEP,
  useFactory: (hasher: PasswordHasher, config: AppConfig) => demoAccountsStep(hasher, config),
  inject: [PasswordHasher, APP_CONFIG],
};
