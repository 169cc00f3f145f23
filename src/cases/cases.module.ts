import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConsentExpiryModule } from '../consents/consent-expiry.module';
import { DirectoryModule } from '../directory/directory.module';
import { IdentityModule } from '../identity/identity.module';
import { CasesController } from './cases.controller';
import { CasesRepository } from './cases.repository';
import { CasesService } from './cases.service';
import { CaseRederivation } from './case-rederivation.service';

@Module({
  imports: [AuditModule, ConsentExpiryModule, DirectoryModule, IdentityModule],
  controllers: [CasesController],
  providers: [CasesService, CasesRepository, CaseRederivation],
  exports: [CasesService, CasesRepository],
})
export class CasesModule {}
