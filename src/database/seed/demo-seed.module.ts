import { Module } from '@nestjs/common';
import { demoAdminUnitsStep } from '../../directory/demo-admin-units';
import { demoOrganizationsStep } from '../../directory/demo-organizations';
import { DEMO_ACCOUNTS_STEP } from '../../identity/demo-accounts';
import { IdentityModule } from '../../identity/identity.module';
import { DEMO_SEED_STEPS, DemoSeedStep } from './demo-seed';
import { DemoSeedService } from './demo-seed.service';

@Module({
  imports: [IdentityModule],
  providers: [
    DemoSeedService,
    {
      provide: DEMO_SEED_STEPS,
      // Order matters: later steps refer to rows of earlier ones.
      useFactory: (accounts: DemoSeedStep): DemoSeedStep[] => [
        demoAdminUnitsStep,
        demoOrganizationsStep,
        accounts,
      ],
      inject: [DEMO_ACCOUNTS_STEP],
    },
  ],
  exports: [DemoSeedService],
})
export class DemoSeedModule {}
