import { Module } from '@nestjs/common';
import { ConsentExpiryModule } from '../consents/consent-expiry.module';
import { ReportsController } from './reports.controller';
import { ReportsRepository } from './reports.repository';
import { ReportsService } from './reports.service';

/** Anonymised statistics and the Action Month report (docs/reports.md). */
@Module({
  imports: [ConsentExpiryModule],
  controllers: [ReportsController],
  providers: [ReportsService, ReportsRepository],
})
export class ReportsModule {}
