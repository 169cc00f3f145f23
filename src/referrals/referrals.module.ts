import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConsentExpiryModule } from '../consents/consent-expiry.module';
import { CasesModule } from '../cases/cases.module';
import { ReferralsController } from './referrals.controller';
import { ReferralsRepository } from './referrals.repository';
import { ReferralsService } from './referrals.service';

@Module({
  imports: [AuditModule, ConsentExpiryModule, CasesModule],
  controllers: [ReferralsController],
  providers: [ReferralsService, ReferralsRepository],
})
export class ReferralsModule {}
