import { Module } from '@nestjs/common';
import { demoAdminUnitsStep } from '../../directory/demo-admin-units';
import { DEMO_SEED_STEPS, DemoSeedStep } from './demo-seed';
import { DemoSeedService } from './demo-seed.service';

@Module({
  providers: [
    DemoSeedService,
    {
      provide: DEMO_SEED_STEPS,
      // Order matters: later steps refer to rows of earlier ones.
      useFactory: (): DemoSeedStep[] => [demoAdminUnitsStep],
    },
  ],
  exports: [DemoSeedService],
})
export class DemoSeedModule {}
