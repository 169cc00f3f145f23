import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { LOGGER } from '../../common/logging/logger.module';
import { DEMO_SEED_STEPS, DemoSeedStep } from './demo-seed';

import { ADVISORY_LOCKS } from '../advisory-locks';

/**
 * Loads the demo data set in demo mode. It seeds an empty database only (no administrative units, accounts or
 * organisations, and no earlier demo seed), and on a database it seeded before it adds the steps that did not
 * exist then.
 */
@Injectable()
export class DemoSeedService implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(DEMO_SEED_STEPS) private readonly steps: DemoSeedStep[],
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.demo.enabled) await this.seed();
  }

  /** Returns the names of the steps applied by this call. */
  async seed(): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.demoSeed]);
      const done = new Set<string>(
        (await manager.query<{ step: string }[]>('SELECT step FROM demo_seed_runs')).map((r) => r.step),
      );
      if (done.size === 0) {
        // Any data of an installation: units imported, or an account (the first administrator, made before the
        // units are imported), or an organisation. Its demo accounts must never join a real installation.
        const [{ n }] = await manager.query<{ n: number }[]>(
          `SELECT (EXISTS (SELECT 1 FROM admin_units) OR EXISTS (SELECT 1 FROM users)
                   OR EXISTS (SELECT 1 FROM organizations))::int AS n`,
        );
        if (n > 0) {
          this.logger.info('demo seed skipped: the database already holds data');
          return [];
        }
      }
      const applied: string[] = [];
      for (const step of this.steps) {
        if (done.has(step.name)) continue;
        await step.run(manager);
        await manager.query('INSERT INTO demo_seed_runs (step) VALUES ($1)', [step.name]);
        applied.push(step.name);
      }
      if (applied.length) this.logger.info({ steps: applied }, 'demo data seeded');
      return applied;
    });
  }
}
