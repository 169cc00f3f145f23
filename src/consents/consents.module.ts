import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConsentExpiryModule } from './consent-expiry.module';
import { CasesModule } from '../cases/cases.module';
import { ConsentsController } from './consents.controller';
import { ConsentsService } from './consents.service';

@Module({
  imports: [AuditModule, ConsentExpiryModule, CasesModule],
  controllers: [ConsentsController],
  providers: [ConsentsService],
})
export class ConsentsModule {}
