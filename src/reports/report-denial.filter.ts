import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedRequest } from '../authz/current-principal.decorator';
import { DomainError } from '../common/errors/domain-error';
import { ProblemFilter } from '../common/errors/problem.filter';
import { LOGGER } from '../common/logging/logger.module';

const recorded = new WeakSet<DomainError>();

/** Marks a refusal the service has already written to the access log. */
export function markDenialRecorded(e: DomainError): DomainError {
  recorded.add(e);
  return e;
}

/**
 * Keeps a record of refused report reads. The access guard refuses callers without any report rule (ward
 * officers, providers) before the service runs; this filter, on the reports controller only, writes those
 * refusals to the access log as denied `report.read` entries, then answers exactly as the global problem
 * filter does. Refusals the service raised (outside the jurisdiction) are already recorded.
 */
@Catch()
export class ReportDenialFilter implements ExceptionFilter {
  private readonly problems: ProblemFilter;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly audit: AuditService,
  ) {
    this.problems = new ProblemFilter(logger);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    const res = http.getResponse<Response>();
    const principal = req.user;
    const refusedByGuard =
      exception instanceof DomainError &&
      exception.code === 'auth.forbidden' &&
      !recorded.has(exception) &&
      principal !== undefined;
    if (!refusedByGuard) {
      this.problems.respond(exception, req, res);
      return;
    }
    void this.audit
      .recordDenied(principal, { action: 'report.read', resourceType: 'report', reason: 'auth.forbidden' })
      .catch((err: unknown) => this.logger.error({ err }, 'could not record a refused report read'))
      .finally(() => this.problems.respond(exception, req, res));
  }
}
