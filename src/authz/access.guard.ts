import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { newAccountNames, newOrganizationNames, provincesNamed } from '../directory/commune-provinces';
import { accountProvincesOf } from '../identity/users.repository';
import type { AuditAction, AuditResourceType } from '../audit/audit.types';
import { DomainError } from '../common/errors/domain-error';
import { UUID_PATTERN } from '../common/http/uuid-param';
import type { ErrorCode } from '../common/errors/error-catalog';
import { AbilityFactory } from './ability.factory';
import type { AuthenticatedRequest } from './current-principal.decorator';
import { POLICY_KEY, PUBLIC_KEY, RoutePolicy, type RouteTarget } from './policy.decorator';
import type { Principal } from './principal';
import { STEP_UP_KEY, stepUpHolds } from './step-up';
import type { Action, SubjectName } from './subjects';

/**
 * The access-log action of a refused route on the subjects the log covers (case work, reports, the log
 * itself, changes to accounts and organisations). Reads of the directory and of accounts are not logged here.
 */
const AUDITED: Readonly<Partial<Record<`${SubjectName}:${Action}`, [AuditAction, AuditResourceType]>>> = {
  'Case:create': ['case.create', 'case'],
  'Case:update': ['case.update', 'case'],
  'Case:close': ['case.close', 'case'],
  'Case:search': ['case.search', 'case'],
  'Case:delete': ['case.shred', 'case'],
  'Consent:create': ['consent.create', 'consent'],
  'Consent:read': ['consent.read', 'consent'],
  'Consent:withdraw': ['consent.withdraw', 'consent'],
  'Referral:create': ['referral.create', 'referral'],
  'Referral:accept': ['referral.accept', 'referral'],
  'Referral:decline': ['referral.decline', 'referral'],
  'Referral:complete': ['referral.complete', 'referral'],
  'Referral:revoke': ['referral.revoke', 'referral'],
  // A note not made yet: the refusal names its referral, as the service's refusals do.
  'Note:create': ['note.create', 'referral'],
  'Report:read': ['report.read', 'report'],
  'AuditEvent:read': ['audit.read', 'audit_log'],
  'AuditEvent:verify': ['audit.verify', 'audit_log'],
  'BreakGlass:create': ['break_glass.open', 'break_glass'],
  'BreakGlass:read': ['break_glass.review', 'break_glass'],
  'BreakGlass:update': ['break_glass.review', 'break_glass'],
  'User:create': ['user.create', 'user'],
  'User:update': ['user.update', 'user'],
  'Organization:create': ['organization.create', 'organization'],
  'Organization:update': ['organization.update', 'organization'],
};

function auditedAction(
  policy: RoutePolicy,
  addressesRecord: boolean,
): [AuditAction, AuditResourceType] | null {
  // Reads of one record and reads of a list are different actions in the log.
  if (policy.subject === 'Case' && policy.action === 'read')
    return [addressesRecord ? 'case.read' : 'case.list', 'case'];
  if (policy.subject === 'Referral' && policy.action === 'read') {
    return [addressesRecord ? 'referral.read' : 'referral.list', 'referral'];
  }
  return AUDITED[`${policy.subject}:${policy.action}`] ?? null;
}

/**
 * The global gate in front of every route: @Public routes pass; every other route needs a valid bearer
 * token (the 'jwt' strategy of the identity module) AND a @Policy that the caller's ability grants. A route
 * without either decorator is refused to everyone (fail closed). A route addressing one record (it has
 * path parameters) answers a denial with the same 404 as a missing record, so it never confirms existence.
 */
@Injectable()
export class AccessGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly abilities: AbilityFactory,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return false;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    await super.canActivate(context); // throws auth.unauthenticated (see handleRequest)
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = req.user;
    if (!principal) throw new DomainError('auth.unauthenticated');

    const policy = this.reflector.get<RoutePolicy | undefined>(POLICY_KEY, context.getHandler());
    if (!policy) throw new DomainError('auth.forbidden');

    const ability = this.abilities.createFor(principal);
    req.ability = ability;
    // A route with path parameters names them on its @Policy (test/routes.e2e-spec.ts checks it).
    const addressesRecord = policy.on !== undefined;
    if (ability.can(policy.action, policy.subject)) {
      // Allowed, but this route also wants the person, not a token alone (RequiresStepUp).
      if (!this.reflector.get<boolean>(STEP_UP_KEY, context.getHandler())) return true;
      if (await stepUpHolds(this.dataSource, principal)) return true;
      await this.recordRefusal(principal, policy, req, addressesRecord, 'auth.step_up_required');
      throw new DomainError('auth.step_up_required');
    }
    // Why: a restricted session (its password to change, two-factor to set up), else the role has no rule.
    const why: ErrorCode = principal.passwordChangeRequired
      ? 'auth.password_change_required'
      : principal.enrollmentOnly
        ? 'auth.totp_enrollment_required'
        : 'auth.forbidden';
    // A refusal at the route is on record like the services' refusals, with that reason.
    await this.recordRefusal(principal, policy, req, addressesRecord, why);
    // A role without a rule on a record is answered like a missing record: never a hint that it exists.
    throw new DomainError(why === 'auth.forbidden' && addressesRecord ? 'resource.not_found' : why);
  }

  private async recordRefusal(
    principal: Principal,
    policy: RoutePolicy,
    req: AuthenticatedRequest,
    addressesRecord: boolean,
    reason: ErrorCode,
  ): Promise<void> {
    const audited = auditedAction(policy, addressesRecord);
    if (!audited) return;
    const [action, resourceType] = audited;
    await this.audit.recordDenied(principal, {
      action,
      resourceType,
      ...(await this.refusedTarget(req, policy.on ?? {}, resourceType)),
      reason,
    });
  }

  /**
   * What a refused route addressed, by its path parameters as its @Policy names them (`on`), as the services'
   * refusals name it: the resource itself (a consent or an account by its `record` parameter, else the case,
   * the referral or the grant when the route's resource is one; none for what a route would have made, such as
   * a case's new referral or a referral's new note), and the case it is about with its place, when that case
   * exists, so that the case's province sees the attempt (and the caller's sees it without the case:
   * AuditQueryService).
   */
  private async refusedTarget(
    req: AuthenticatedRequest,
    on: RouteTarget,
    resourceType: AuditResourceType,
  ): Promise<{
    resourceId: string | null;
    caseId?: string;
    provinceCode?: string;
    wardCode?: string;
    subjectProvinces?: string[];
  }> {
    const param = (name: string | undefined) => {
      const v = name === undefined ? undefined : req.params?.[name];
      return typeof v === 'string' && UUID_PATTERN.test(v) ? v.toLowerCase() : null;
    };
    const onCase = param(on.case);
    const onReferral = param(on.referral);
    const onGrant = param(on.grant);
    const own: Partial<Record<AuditResourceType, string | null>> = {
      case: onCase,
      referral: onReferral,
      break_glass: onGrant,
    };
    const resourceId = on.record !== undefined ? param(on.record) : (own[resourceType] ?? null);
    // An account or an organisation to be made (no record yet): in the provinces its request names, as the
    // services' refusals of one are (a stolen administrator's token without a step-up is seen there too).
    if (!resourceId && (resourceType === 'user' || resourceType === 'organization')) {
      const named = resourceType === 'user' ? newAccountNames(req.body) : newOrganizationNames(req.body);
      return { resourceId, subjectProvinces: await provincesNamed(this.dataSource.manager, named) };
    }
    // An account or an organisation: in the provinces it works in, as the services' refusals of a change are
    // (a stolen administrator's token without a step-up, refused here, is seen by the account's supervisors).
    if (resourceId && resourceType === 'user') {
      return { resourceId, subjectProvinces: await accountProvincesOf(this.dataSource.manager, resourceId) };
    }
    if (resourceId && resourceType === 'organization') {
      const orgs = await this.dataSource.query<{ province_code: string }[]>(
        `SELECT province_code FROM organizations WHERE id = $1`,
        [resourceId],
      );
      return { resourceId, subjectProvinces: orgs.map((o) => o.province_code) };
    }
    if (!onCase && !onReferral && !onGrant) return { resourceId };
    const [c] = await this.dataSource.query<{ id: string; province_code: string; ward_code: string }[]>(
      `SELECT c.id, c.province_code, c.ward_code FROM cases c
        WHERE c.id = coalesce($1::uuid, (SELECT r.case_id FROM referrals r WHERE r.id = $2::uuid),
                              (SELECT g.case_id FROM break_glass_grants g WHERE g.id = $3::uuid))`,
      [onCase, onReferral, onGrant],
    );
    return c
      ? { resourceId, caseId: c.id, provinceCode: c.province_code, wardCode: c.ward_code }
      : { resourceId };
  }

  override handleRequest<T>(err: unknown, user: T): T {
    // An error is the session lookup's (passport-jwt reports a bad token as no user, not as an error): the
    // database down or refusing for a moment is a 503 (ProblemFilter), anything else a 500, never a 401 that
    // would sign a valid session out.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- passed on as it came (ProblemFilter)
    if (err) throw err;
    if (!user) throw new DomainError('auth.unauthenticated');
    return user;
  }
}
