import { Global, Module } from '@nestjs/common';
import { DirectoryModule } from '../directory/directory.module';
import { AuditCheckpointService } from './audit-checkpoint.service';
import { AuditQueryService } from './audit-query.service';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

/**
 * The access log: the writer every feature calls (AuditService, global so that no feature has to import this
 * module), signed checkpoints, verification and the supervisors' API (docs/audit.md).
 */
@Global()
@Module({
  imports: [DirectoryModule],
  controllers: [AuditController],
  providers: [AuditService, AuditCheckpointService, AuditQueryService],
  exports: [AuditService, AuditCheckpointService],
})
export class AuditModule {}
