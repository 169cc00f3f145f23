import type { EntityManager } from 'typeorm';

/** One step of the demo data set. Steps run in order, once each, in one transaction. */
export interface DemoSeedStep {
  readonly name: string;
  run(manager: EntityManager): Promise<void>;
}

export const DEMO_SEED_STEPS = Symbol('DEMO_SEED_STEPS');
