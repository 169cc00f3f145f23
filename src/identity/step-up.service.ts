import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../authz/principal';
import { STEP_UP_MINUTES } from '../authz/step-up';
import { returnedRows } from '../database/pg-errors';
import { ReauthenticationService, StepUp } from './reauthentication.service';

/**
 * A session steps up (ASVS 3.7.1, "sudo mode"): its user authenticates again as at sign-in, and for
 * STEP_UP_MINUTES (never past the token's expiry) the session may use the routes that ask for it
 * (RequiresStepUp: account and organisation administration, a verdict on an emergency access). Kept per access token, so another session of the
 * same user, or a token issued later, has not stepped up. On the access log as `auth.step_up`.
 */
@Injectable()
export class StepUpService {
  constructor(
    private readonly reauth: ReauthenticationService,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async stepUp(p: Principal, given: StepUp): Promise<{ stepUpUntil: string }> {
    const entry = { action: 'auth.step_up', resourceType: 'session' } as const;
    await this.reauth.confirm(p, given, entry);
    return this.dataSource.transaction(async (m) => {
      const [row] = await m.query<{ expires_at: Date }[]>(
        `INSERT INTO session_step_ups (token_id, user_id, expires_at)
         VALUES ($1, $2, least(now() + make_interval(mins => $3), $4::timestamptz))
         ON CONFLICT (token_id) DO UPDATE SET expires_at = excluded.expires_at
         RETURNING expires_at`,
        [p.tokenId, p.userId, STEP_UP_MINUTES, p.tokenExpiresAt],
      );
      await this.audit.record(m, p, entry);
      return { stepUpUntil: new Date(row.expires_at).toISOString() };
    });
  }

  /** Removes lapsed step-ups; returns how many. */
  async prune(): Promise<number> {
    return returnedRows(
      await this.dataSource.query(`DELETE FROM session_step_ups WHERE expires_at < now() RETURNING token_id`),
    ).length;
  }
}
