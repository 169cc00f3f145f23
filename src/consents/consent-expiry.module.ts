import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConsentExpiryService } from './consent-expiry.service';

@Module({ imports: [AuditModule], providers: [ConsentExpiryService], exports: [ConsentExpiryService] })
export class ConsentExpiryModule {}
