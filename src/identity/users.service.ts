import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { DataSource, EntityManager } from 'typeorm';
import { endGrants, lockLiveGrants } from '../break-glass/grant-ending';
import { AuditService } from '../audit/audit.service';
import type { AppAbility } from '../authz/ability.factory';
import type { Principal } from '../authz/principal';
import { accessibleWhere } from '../authz/sql-scope';
import type { UserSubject } from '../authz/subjects';
import { DomainError, FieldError, fieldError } from '../common/errors/domain-error';
import { sameSet } from '../common/same-set';
import { PasswordHasher } from '../crypto/password-hasher';
import { ADVISORY_LOCKS } from '../database/advisory-locks';
import { isUniqueViolation } from '../database/pg-errors';
import { AdminUnitsRepository } from '../directory/admin-units.repository';
import { newAccountNames, provincesNamed } from '../directory/commune-provinces';
import { organizationRetired, OrganizationsRepository } from '../directory/organizations.repository';
import {
  canonicalUsername,
  CreateUserDto,
  UpdatedUserView,
  UpdateUserDto,
  USERNAME,
  UserList,
  UserListQuery,
  UserView,
} from './dto/user.dto';
import { assertPasswordAcceptable } from './password-policy';
import { LoginThrottleService } from './login-throttle.service';
import { holdAdministrator } from './session-hold';
import { ROLE_NAMES, User } from './user.entity';
import { accountProvincesOf, UsersRepository } from './users.repository';
import { pageOffset } from '../database/page-limit';

const USER_COLUMNS = { id: 'u.id', role: 'u.role' } as const;

/**
 * Not one's own credentials through account administration: a stolen token alone would set a password it then
 * signs in with. The user's own change asks for the current password (POST /auth/password); another
 * administrator resets.
 */
const OWN_CREDENTIALS = () =>
  new DomainError('auth.forbidden', {
    en: 'Change your own password with /auth/password (it asks for the current one); another administrator resets your two-factor.',
    vi: 'Hãy đổi mật khẩu của chính mình qua /auth/password (cần mật khẩu hiện tại); việc đặt lại xác thực hai lớp của bạn phải do một quản trị viên khác thực hiện.',
  });

/** `users:create-admin` once an installation has an administrator. */
const ADMIN_EXISTS = () =>
  new DomainError('conflict.state', {
    en: 'An active administrator exists: accounts are created by administrators (POST /api/v1/users).',
    vi: 'Đã có quản trị viên đang hoạt động: tài khoản do quản trị viên tạo (POST /api/v1/users).',
  });

const DEMO_DATABASE = () =>
  new DomainError('conflict.state', {
    en:
      'This database holds the demo (its first start ran with it, on by default with the embedded database): a real ' +
      'installation starts from an empty data directory with HAVEN_DEMO=0.',
    vi:
      'Cơ sở dữ liệu này chứa dữ liệu minh hoạ (lần khởi động đầu tiên chạy chế độ minh hoạ, mặc định với cơ sở dữ liệu ' +
      'nhúng): một hệ thống thật bắt đầu từ thư mục dữ liệu trống với HAVEN_DEMO=0.',
  });

/** An account's two-factor removed (an administrator's or the operator's reset): set up again at sign-in. */
const TOTP_RESET = {
  totpSecret: null,
  totpPendingSecret: null,
  totpEnabledAt: null,
  totpLastStep: null,
  totpFailures: 0,
} as const satisfies Partial<User>;

/** A password set by someone else (an administrator, the operator): the user must choose their own first. */
const passwordSetBy = (passwordHash: string): Partial<User> => ({
  passwordHash,
  passwordChangedAt: new Date(),
  passwordChangeRequired: true,
});

const NO_SUCH_ADMIN = () =>
  new DomainError('resource.not_found', {
    en: 'No administrator has that username (this tool resets administrators only).',
    vi: 'Không có quản trị viên nào có tên đăng nhập này (công cụ này chỉ đặt lại tài khoản quản trị viên).',
  });

/** What an account update changed, as the access log's `user.update` entries say it (their `reason`). */
export type AccountChange =
  'user.disabled' | 'user.enabled' | 'user.password_reset' | 'user.totp_reset' | 'user.communes_changed';

/**
 * Account administration: create, list, disable, reset password or two-factor, change communes. Every
 * creation and change is on the access log (`user.create`; a `user.update` per kind of change), in the
 * transaction that makes it, in the jurisdiction of the account it is about: an administrator who resets an
 * officer's password is seen by that officer's supervisors.
 */
@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly units: AdminUnitsRepository,
    private readonly organizations: OrganizationsRepository,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
    private readonly throttle: LoginThrottleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateUserDto, caller: Principal, ability: AppAbility): Promise<UserView> {
    // A refusal (a taken name, a weak password, a scope that does not fit the role) is on record too, in the
    // provinces the account would have worked in: their supervisors see an attempt to make one there.
    return this.audit.refusalsOnRecord(
      caller,
      async () => ({
        action: 'user.create',
        resourceType: 'user',
        subjectProvinces: await provincesNamed(this.dataSource.manager, newAccountNames(dto)),
      }),
      () => this.createAccount(dto, caller, ability),
    );
  }

  private async createAccount(dto: CreateUserDto, caller: Principal, ability: AppAbility): Promise<UserView> {
    if (!ability.can('create', { kind: 'User', role: dto.role } satisfies UserSubject)) {
      throw new DomainError('auth.forbidden');
    }
    const scope = await this.resolveScope(dto);
    const user = await this.insertAccount(
      { username: dto.username, role: dto.role, password: dto.password, ...scope },
      async (manager, created) => {
        // Held until the account commits: a retirement since resolveScope looked is seen here.
        if (scope.organizationId && (await organizationRetired(manager, scope.organizationId))) {
          throw RETIRED_ORGANIZATION_ACCOUNT();
        }
        await this.audit.record(manager, caller, {
          action: 'user.create',
          resourceType: 'user',
          resourceId: created.id,
          subjectProvinces: await accountProvincesOf(manager, created.id),
        });
      },
      caller,
    );
    return this.get(user.id, ability);
  }

  /**
   * The first administrator of an installation, made by its operator from the command line
   * (`users:create-admin`): there is no other way to the first account outside the demo. Refused while an
   * active administrator exists (the demo's own accounts aside, shut outside the demo). Like an account an
   * administrator creates, it must choose its own password at its first sign-in, and set up two-factor. On
   * the access log as `user.create` without an actor (the operator), reason `user.created_by_operator`.
   */
  async createFirstAdmin(username: string, password: string): Promise<{ id: string; username: string }> {
    // A refused attempt (an administrator exists, a weak password, a taken name) is on record too.
    return this.audit.refusalsOnRecord(null, { action: 'user.create', resourceType: 'user' }, async () => {
      if (!USERNAME.test(username)) {
        throw fieldError('username', 'has the wrong format', 'sai định dạng');
      }
      // The demo's data (its first start ran with the demo, on by default with the embedded database): its
      // accounts (one printed password, no two-factor) and organisations would stand beside the real ones.
      const [demo] = await this.dataSource.query<unknown[]>(`SELECT 1 FROM demo_seed_runs LIMIT 1`);
      if (demo) throw DEMO_DATABASE();
      // Checked before the password is hashed, and again under the lock (another operator at the same moment).
      if ((await this.users.activeAdminIds({ demoAccounts: false })).length > 0) throw ADMIN_EXISTS();
      return this.insertFirstAdmin(username, password);
    });
  }

  /**
   * An administrator's account put right by the installation's operator from the command line
   * (`users:reset-admin`), when no other administrator can: a sole administrator who lost their authenticator,
   * or whose codes ten wrong ones in a row refused, or who forgot the password. A new password (to be changed at
   * the next sign-in) and no two-factor (set up again then); every session ends. The account stays disabled if
   * it was. On the access log as `user.update` without an actor, reason `user.reset_by_operator`, in the
   * account's jurisdiction (national: an administrator's); refusals too.
   */
  async resetAdminByOperator(
    username: string,
    password: string,
  ): Promise<{ id: string; username: string; active: boolean }> {
    const entry = { action: 'user.update', resourceType: 'user' } as const;
    return this.audit.refusalsOnRecord(null, entry, async () => {
      const target = USERNAME.test(username) ? await this.users.findByUsername(username) : null;
      if (!target || target.role !== 'admin' || target.demoAccount) throw NO_SUCH_ADMIN();
      assertPasswordAcceptable(password, target.username);
      const passwordHash = await this.hasher.hash(password);
      return this.dataSource.transaction(async (manager) => {
        const user = await manager
          .getRepository(User)
          .findOne({ where: { id: target.id }, lock: { mode: 'for_no_key_update' } });
        if (!user || user.role !== 'admin') throw NO_SUCH_ADMIN();
        await this.users.update(
          user.id,
          { ...passwordSetBy(passwordHash), ...TOTP_RESET, tokenVersion: user.tokenVersion + 1 },
          manager,
        );
        await this.throttle.clearAccount(user.username, manager);
        await this.audit.record(manager, null, {
          ...entry,
          resourceId: user.id,
          reason: 'user.reset_by_operator',
        });
        return { id: user.id, username: user.username, active: user.status === 'active' };
      });
    });
  }

  private async insertFirstAdmin(
    username: string,
    password: string,
  ): Promise<{ id: string; username: string }> {
    const created = await this.insertAccount(
      { username, role: 'admin', password, organizationId: null, provinceCode: null, wardCodes: [] },
      async (manager, account) => {
        // Two operators at once make one administrator.
        await manager.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.firstAdmin]);
        const admins = await this.users.activeAdminIds({ demoAccounts: false }, manager);
        if (admins.some((id) => id !== account.id)) throw ADMIN_EXISTS();
        await this.audit.record(manager, null, {
          action: 'user.create',
          resourceType: 'user',
          resourceId: account.id,
          reason: 'user.created_by_operator',
        });
      },
      null,
    );
    return { id: created.id, username: created.username };
  }

  /**
   * A new account, in a transaction with `alongside` (its access-log entry, and checks that refuse it): the
   * username lower-cased, the password checked and hashed, and a password change required at the first
   * sign-in (whoever made the account knows it). A taken username is `user.username_taken`.
   */
  private async insertAccount(
    account: {
      username: string;
      role: User['role'];
      password: string;
      organizationId: string | null;
      provinceCode: string | null;
      wardCodes: readonly string[];
    },
    alongside: (manager: EntityManager, created: User) => Promise<void>,
    caller: Principal | null,
  ): Promise<User> {
    const username = canonicalUsername(account.username);
    assertPasswordAcceptable(account.password, username);
    const passwordHash = await this.hasher.hash(account.password);
    try {
      return await this.dataSource.transaction(async (manager) => {
        // An administrator's session that ended while the password was hashed makes no account.
        if (caller) await holdAdministrator(manager, caller);
        // An account one of the demo's accounts makes is the demo's too, and so is whatever that one makes: shut
        // with them once the demo stops (demoAccountShut), rather than left standing, made by whoever held the
        // printed password; asked for two-factor and step-ups as any other (made_in_demo: not demoRelaxed).
        const ofDemo = caller?.demoAccount === true;
        const created = await this.users.insert(
          {
            username,
            role: account.role,
            passwordHash,
            passwordChangeRequired: true,
            demoAccount: ofDemo,
            madeInDemo: ofDemo,
            organizationId: account.organizationId,
            provinceCode: account.provinceCode,
          },
          account.wardCodes,
          manager,
        );
        await alongside(manager, created);
        return created;
      });
    } catch (e) {
      if (isUniqueViolation(e, 'users_username_key')) throw new DomainError('user.username_taken');
      throw e;
    }
  }

  async list(query: UserListQuery, ability: AppAbility): Promise<UserList> {
    const page = query.page ?? 1;
    const pageSize = query.pageSize ?? 50;
    const { items, total } = await this.users.list({
      role: query.role,
      status: query.status,
      scope: accessibleWhere(ability, 'read', 'User', USER_COLUMNS),
      offset: pageOffset(page, pageSize),
      limit: pageSize,
    });
    return { items: await this.views(items), total, page, pageSize };
  }

  async get(id: string, ability: AppAbility): Promise<UserView> {
    const user = await this.users.findById(id);
    if (!user || !ability.can('read', subjectOf(user))) throw new DomainError('resource.not_found');
    return (await this.views([user]))[0];
  }

  async update(
    id: string,
    dto: UpdateUserDto,
    caller: Principal,
    ability: AppAbility,
  ): Promise<UpdatedUserView> {
    // A refusal (one's own credentials, the last administrator, no such account…) is on record too: an
    // administrator's token used to reset its own password is what the refusal exists to stop. In the
    // jurisdiction of the account it is about, as a change is: its supervisors see an attempt on it.
    return this.audit.refusalsOnRecord(
      caller,
      async () => ({
        action: 'user.update',
        resourceType: 'user',
        resourceId: id,
        subjectProvinces: await accountProvincesOf(this.dataSource.manager, id),
      }),
      () => this.updateAccount(id, dto, caller, ability),
    );
  }

  private async updateAccount(
    id: string,
    dto: UpdateUserDto,
    caller: Principal,
    ability: AppAbility,
  ): Promise<UpdatedUserView> {
    if (dto.password !== undefined) {
      const target = await this.users.findById(id);
      if (!target || !ability.can('update', subjectOf(target))) throw new DomainError('resource.not_found');
      if (target.id === caller.userId) throw OWN_CREDENTIALS();
      assertPasswordAcceptable(dto.password, target.username);
    }
    const passwordHash = dto.password !== undefined ? await this.hasher.hash(dto.password) : undefined;
    const unstaffed = await this.dataSource.transaction(async (manager) => {
      // The caller's session, held with the active administrators (holdAdministrator): one disabled or reset
      // while this waited (the new password being hashed) changes nothing.
      await holdAdministrator(manager, caller);
      // A disabling locks the active administrators first (in one order, before the account): two of the last
      // two disabling each other at once would otherwise leave none (recovering then needs the database).
      const activeAdmins =
        dto.status === 'disabled'
          ? await this.users.activeAdminIds({ demoAccounts: this.config.demo.enabled, lock: true }, manager)
          : [];
      // Likewise the active national supervisors: the only ones who see what administrators do to administrators'
      // and national supervisors' accounts (those entries have no province).
      const activeNational =
        dto.status === 'disabled'
          ? await this.users.activeNationalSupervisorIds(
              { demoAccounts: this.config.demo.enabled, lock: true },
              manager,
            )
          : [];
      const user = await manager
        .getRepository(User)
        .findOne({ where: { id }, lock: { mode: 'for_no_key_update' } });
      if (!user || !ability.can('update', subjectOf(user))) throw new DomainError('resource.not_found');
      // The account's id as stored, whatever the letter case of the one in the path.
      if ((passwordHash !== undefined || dto.resetTotp) && user.id === caller.userId) throw OWN_CREDENTIALS();
      // Two-factor is reset with the password: whoever has the old password (phished, say: two-factor was what
      // stopped them) would otherwise sign in and set up their own authenticator before the user does. The new
      // one reaches the user from the administrator, and is changed at first sign-in.
      if (dto.resetTotp && passwordHash === undefined) {
        throw new DomainError('request.validation', undefined, [
          {
            field: 'password',
            code: 'isDefined',
            message: {
              en: 'is required with resetTotp: a new password, which the user changes at first sign-in',
              vi: 'là bắt buộc khi đặt lại xác thực hai lớp: một mật khẩu mới, người dùng sẽ phải đổi ở lần đăng nhập tiếp theo',
            },
          },
        ]);
      }
      if (dto.status === 'disabled' && user.id === caller.userId) {
        throw new DomainError('conflict.state', {
          en: 'You cannot disable your own account.',
          vi: 'Bạn không thể vô hiệu hoá tài khoản của chính mình.',
        });
      }
      if (
        dto.status === 'disabled' &&
        user.role === 'admin' &&
        user.status === 'active' &&
        !activeAdmins.some((a) => a !== user.id)
      ) {
        throw new DomainError('conflict.state', {
          en: 'The last active administrator cannot be disabled.',
          vi: 'Không thể vô hiệu hoá quản trị viên cuối cùng đang hoạt động.',
        });
      }
      if (dto.status === 'disabled' && activeNational.length === 1 && activeNational[0] === user.id) {
        throw new DomainError('conflict.state', {
          en: 'The last active national supervisor cannot be disabled: they alone see what administrators do to administrators’ accounts. Create another first.',
          vi: 'Không thể vô hiệu hoá giám sát viên toàn quốc cuối cùng đang hoạt động: chỉ họ thấy các thao tác của quản trị viên trên tài khoản quản trị viên. Hãy tạo một tài khoản khác trước.',
        });
      }
      const changes: Partial<User> = {};
      // Each of these ends every session of the user (tokens carry the version they were issued with), and
      // each is an entry of the access log.
      const made: AccountChange[] = [];
      const provinces = await accountProvincesOf(manager, user.id);
      // The communes a ward officer served before the change: those it leaves with no officer are said.
      const servedBefore =
        user.role === 'ward_officer' && (dto.status === 'disabled' || dto.wardCodes !== undefined)
          ? ((await this.users.wardCodesOf([user.id], manager)).get(user.id) ?? [])
          : [];
      if (dto.status !== undefined && dto.status !== user.status) {
        changes.status = dto.status;
        made.push(dto.status === 'disabled' ? 'user.disabled' : 'user.enabled');
      }
      if (passwordHash !== undefined) {
        Object.assign(changes, passwordSetBy(passwordHash));
        made.push('user.password_reset');
        // A user locked out by others' guesses gets back in with the new password.
        await this.throttle.clearAccount(user.username, manager);
      }
      if (dto.resetTotp) {
        Object.assign(changes, TOTP_RESET);
        made.push('user.totp_reset');
      }
      if (dto.wardCodes !== undefined) {
        if (user.role !== 'ward_officer') {
          throw invalid('wardCodes', 'roleMismatch', {
            en: 'only a ward officer serves communes',
            vi: 'chỉ cán bộ cấp xã mới phụ trách xã/phường',
          });
        }
        const communes = await this.communes(dto.wardCodes, manager);
        // The same communes again: nothing changes (no session ends, nothing on the log).
        if (!sameSet(communes, servedBefore)) {
          await this.users.replaceWardCodes(user.id, communes, manager);
          // The communes it served and the ones it serves now: supervisors of both see the change.
          provinces.push(...(await accountProvincesOf(manager, user.id)));
          made.push('user.communes_changed');
        }
      }
      if (made.length) changes.tokenVersion = user.tokenVersion + 1;
      if (Object.keys(changes).length) await this.users.update(user.id, changes, manager);
      if (made.length) {
        // Ending its sessions ends the account's emergency access too: a grant outlived a disabling, and ran on
        // for its user once the account was enabled again. Locked in id order before the first access-log
        // entry takes a stripe, as the grants' other ends lock them. A break-glass open under way holds the
        // account (FOR SHARE): this change waited for it, and ends its grant as well.
        await lockLiveGrants(manager, 'g.user_id = $1', [user.id]);
        await endGrants(manager, this.audit, 'g.user_id = $1', [user.id], 'account_changed', caller);
      }
      await this.audit.recordChanges(
        manager,
        caller,
        { action: 'user.update', resourceType: 'user', resourceId: user.id, subjectProvinces: provinces },
        made,
      );
      // A commune left with no active ward officer: its cases are seen by no one at the commune (said to the
      // administrator, who gives them to someone; not refused: an officer who left must be disabled at once).
      if (!made.includes('user.disabled') && !made.includes('user.communes_changed')) return [];
      return this.users.communesWithoutOfficer(
        servedBefore,
        { demoAccounts: this.config.demo.enabled },
        manager,
      );
    });
    const view = await this.get(id, ability);
    return unstaffed.length > 0 ? { ...view, unstaffedCommunes: unstaffed } : view;
  }

  /** Checks that the scope fields fit the role and name existing units and organisations. */
  private async resolveScope(dto: CreateUserDto): Promise<{
    wardCodes: string[];
    organizationId: string | null;
    provinceCode: string | null;
  }> {
    const errors: FieldError[] = [];
    const notFor = (field: string) =>
      errors.push({
        field,
        code: 'roleMismatch',
        message: {
          en: `is not used for the role ${dto.role} (${ROLE_NAMES[dto.role].en})`,
          vi: `không dùng cho vai trò ${ROLE_NAMES[dto.role].vi}`,
        },
      });
    const required = (field: string) =>
      errors.push({ field, code: 'isDefined', message: { en: 'is required', vi: 'là bắt buộc' } });
    const given = {
      wardCodes: dto.wardCodes !== undefined,
      organizationId: dto.organizationId !== undefined,
      provinceCode: dto.provinceCode !== undefined,
      national: dto.national !== undefined,
    };
    const expected: Record<string, (keyof typeof given)[]> = {
      ward_officer: ['wardCodes'],
      provider: ['organizationId'],
      supervisor: ['provinceCode', 'national'],
      admin: [],
    };
    const allowed = expected[dto.role] ?? [];
    for (const field of Object.keys(given) as (keyof typeof given)[]) {
      if (given[field] && !allowed.includes(field)) notFor(field);
    }
    if (dto.role === 'ward_officer' && !given.wardCodes) required('wardCodes');
    if (dto.role === 'provider' && !given.organizationId) required('organizationId');
    if (dto.role === 'supervisor') {
      const national = dto.national === true;
      if (national === given.provinceCode) {
        errors.push({
          field: 'provinceCode',
          code: 'exactlyOne',
          message: {
            en: 'give either provinceCode or national: true',
            vi: 'cần có provinceCode hoặc national: true (chỉ một)',
          },
        });
      }
    }
    if (errors.length) throw new DomainError('request.validation', undefined, errors);

    if (dto.role === 'ward_officer') {
      return { wardCodes: await this.communes(dto.wardCodes!), organizationId: null, provinceCode: null };
    }
    if (dto.role === 'provider') {
      const org = await this.organizations.findById(dto.organizationId!);
      if (!org) {
        throw invalid('organizationId', 'unknownOrganization', {
          en: 'is not a known organisation',
          vi: 'không phải là tổ chức đã đăng ký',
        });
      }
      if (org.retiredAt) throw RETIRED_ORGANIZATION_ACCOUNT();
      return { wardCodes: [], organizationId: org.id, provinceCode: null };
    }
    if (dto.role === 'supervisor' && dto.provinceCode) {
      const [unit] = await this.units.findByCodes([dto.provinceCode]);
      if (!unit || unit.level !== 'province') {
        throw invalid('provinceCode', 'unknownProvince', {
          en: 'is not a known province',
          vi: 'không phải là mã tỉnh/thành phố hợp lệ',
        });
      }
      return { wardCodes: [], organizationId: null, provinceCode: unit.code };
    }
    return { wardCodes: [], organizationId: null, provinceCode: null };
  }

  private async communes(codes: readonly string[], manager?: EntityManager): Promise<string[]> {
    const unique = [...new Set(codes)].sort();
    const units = await this.units.findByCodes(unique, manager);
    if (units.filter((u) => u.level === 'commune').length !== unique.length) {
      throw invalid('wardCodes', 'unknownCommune', {
        en: 'contains a code that is not a known commune',
        vi: 'có mã không phải là đơn vị hành chính cấp xã hợp lệ',
      });
    }
    // A commune's staff work in one province: an account across provinces would read survivors' full records
    // in each (organisations' service areas keep to one province too).
    if (new Set(units.map((u) => u.provinceCode)).size > 1) {
      throw invalid('wardCodes', 'oneProvince', {
        en: 'contains communes of more than one province; an account serves communes of one province',
        vi: 'có xã thuộc nhiều tỉnh, thành phố; một tài khoản chỉ phụ trách các xã của một tỉnh, thành phố',
      });
    }
    return unique;
  }

  private async views(users: User[]): Promise<UserView[]> {
    const wards = await this.users.wardCodesOf(users.map((u) => u.id));
    return users.map((u) => ({
      id: u.id,
      username: u.username,
      role: u.role,
      status: u.status,
      wardCodes: wards.get(u.id) ?? [],
      organizationId: u.organizationId,
      provinceCode: u.provinceCode,
      totpEnabled: u.totpEnabledAt !== null,
      createdAt: u.createdAt,
      updatedAt: u.updatedAt,
    }));
  }
}

function subjectOf(u: User): UserSubject {
  return { kind: 'User', id: u.id, role: u.role };
}

/** An account for the staff of a retired organisation (closed or merged away). */
function RETIRED_ORGANIZATION_ACCOUNT(): DomainError {
  return invalid('organizationId', 'retiredOrganization', {
    en: 'is a retired organisation (reinstate it first)',
    vi: 'là tổ chức đã ngừng hoạt động (hãy khôi phục tổ chức trước)',
  });
}

function invalid(field: string, code: string, message: FieldError['message']): DomainError {
  return new DomainError('unprocessable', undefined, [{ field, code, message }]);
}
