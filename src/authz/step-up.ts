import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse } from '@nestjs/swagger';
import type { DataSource, EntityManager } from 'typeorm';
import { Problem } from '../common/errors/problem';
import type { Principal } from './principal';

export const STEP_UP_KEY = 'haven:step-up';
/**
 * How long a step-up (POST /api/v1/auth/step-up) lets a session administer accounts and organisations, or
 * review emergency accesses.
 */
export const STEP_UP_MINUTES = 10;

/**
 * The route also needs a recent step-up of this session: its user gave their password (and a new
 * authenticator code) within the last STEP_UP_MINUTES. For what a stolen access token alone would turn into
 * lasting access: creating an account, resetting another's password or two-factor, widening what an
 * organisation's staff see, and a supervisor's final verdict on an emergency access (which a stolen token could
 * otherwise give every pending grant of a province). Otherwise 403 `auth.step_up_required` (AccessGuard).
 */
export function RequiresStepUp(): MethodDecorator {
  return applyDecorators(
    SetMetadata(STEP_UP_KEY, true),
    ApiForbiddenResponse({
      type: Problem,
      description: `auth.step_up_required: no step-up of this session in the last ${STEP_UP_MINUTES} minutes (POST /api/v1/auth/step-up; not asked of the demo's own accounts while the demo runs)`,
    }),
  );
}

/**
 * Whether this session may use a RequiresStepUp route: it (its access token) stepped up and the step-up has not
 * lapsed; or it is a session of one of the demo's own accounts, which exist only while the demo runs (never in
 * production). Those share one password, known to whoever tries the demo (printed at its first start), and are
 * asked for no two-factor: a step-up would ask for that same password again, and protect nothing. So the
 * contract's administration routes work for the demo's `admin` as the contract writes them. An account the
 * demo's administrator creates is not the demo's: it steps up.
 */
export async function stepUpHolds(db: DataSource | EntityManager, p: Principal): Promise<boolean> {
  if (p.demoRelaxed) return true;
  const rows = await db.query<unknown[]>(
    `SELECT 1 FROM session_step_ups WHERE token_id = $1 AND user_id = $2 AND expires_at > now()`,
    [p.tokenId, p.userId],
  );
  return rows.length > 0;
}
