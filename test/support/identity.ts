import { DataSource } from 'typeorm';
import { generate } from 'otplib';
import { defineAbilityFor } from '../../src/authz/ability.factory';
import type { Principal } from '../../src/authz/principal';
import { givenPrincipal } from './principal';
import { demoAdminUnitsStep } from '../../src/directory/demo-admin-units';
import type { CreateOrganizationDto, OrganizationView } from '../../src/directory/dto/organization.dto';
import { OrganizationsService } from '../../src/directory/organizations.service';
import type { CreateUserDto, UserView } from '../../src/identity/dto/user.dto';
import { TokenService } from '../../src/identity/token.service';
import { TotpService } from '../../src/identity/totp.service';
import { UsersRepository } from '../../src/identity/users.repository';
import { UsersService } from '../../src/identity/users.service';
import type { TestApp } from './app';
import { clearOfTotpStepEnd } from './totp-step';

/** Factories for identity tests: they go through the real services, so every rule still applies. */

export const TEST_PASSWORD = 'orange-kettle-harbour-42';

/**
 * The administrator the factories act as: the actor of their `user.create` entries. An account of the demo's
 * kind (ensureFactoryAdmin), so that it counts as an administrator only where the demo's accounts do: an
 * administrator's change holds its session (holdAdministrator), which must exist and be active.
 */
export const FACTORY_ADMIN_ID = '00000000-0000-4000-8000-0000000000ad';

/**
 * The factory's administrator, active in its first session (no password: it never signs in), made or put back
 * so before each of its calls (a test may have disabled every administrator but its own).
 */
async function ensureFactoryAdmin(t: TestApp): Promise<void> {
  await t.app.get(DataSource).query(
    `INSERT INTO users (id, username, role, password_hash, demo_account)
     VALUES ($1, 'factory.admin', 'admin', '!', true)
     ON CONFLICT (id) DO UPDATE SET status = 'active', token_version = 1
      WHERE users.status <> 'active' OR users.token_version <> 1`,
    [FACTORY_ADMIN_ID],
  );
}
/** An administrator's principal, as the access guard would hand it to a service (for calls without HTTP). */
export function adminPrincipal(
  userId: string,
  username: string,
  session: Pick<Principal, 'tokenId' | 'tokenExpiresAt'> & { requestId: string },
): Principal {
  return givenPrincipal({
    role: 'admin',
    userId,
    username,
    tokenId: session.tokenId,
    tokenExpiresAt: session.tokenExpiresAt,
    request: { requestId: session.requestId },
  });
}

let factoryRequests = 0;
/** The factory's administrator, in a request of its own each time (as an administrator's calls would be). */
function admin(): Principal {
  factoryRequests++;
  return adminPrincipal(FACTORY_ADMIN_ID, 'factory', {
    tokenId: '00000000-0000-4000-8000-0000000000ae',
    tokenExpiresAt: new Date(0),
    requestId: `fac7${String(factoryRequests).padStart(12, '0')}`,
  });
}
const adminAbility = () => defineAbilityFor(admin());

/** The demo administrative units (provinces 01, 11, 31 and a few communes each). */
export async function givenDemoUnits(t: TestApp): Promise<void> {
  const ds = t.app.get(DataSource);
  await ds.transaction((m) => demoAdminUnitsStep.run(m));
}

let counter = 0;

/**
 * An account created by an administrator (the factory's) through UsersService. Unless `passwordChangeRequired`,
 * it stands for a user who has since chosen that password as their own (POST /auth/password), so that it can
 * work at once: an account an administrator just created must change its password first.
 */
export async function givenUser(
  t: TestApp,
  dto: Partial<CreateUserDto> & Pick<CreateUserDto, 'role'>,
  opts: { passwordChangeRequired?: boolean } = {},
): Promise<UserView & { password: string }> {
  const password = dto.password ?? TEST_PASSWORD;
  await ensureFactoryAdmin(t);
  const user = await t.app.get(UsersService).create(
    {
      username: dto.username ?? `${dto.role.replace('_', '-')}.${++counter}.${Date.now().toString(36)}`,
      password,
      ...(dto.role === 'ward_officer' ? { wardCodes: ['00145'] } : {}),
      ...(dto.role === 'supervisor' && dto.provinceCode === undefined ? { national: true } : {}),
      ...dto,
    },
    admin(),
    adminAbility(),
  );
  if (!opts.passwordChangeRequired) {
    await t.app.get(UsersRepository).update(user.id, { passwordChangeRequired: false });
  }
  return { ...user, password };
}

/** An administrator (the factory's) resets the account's password (and its two-factor) through UsersService. */
export async function givenPasswordReset(
  t: TestApp,
  userId: string,
  password: string,
  opts: { resetTotp?: boolean } = {},
): Promise<void> {
  const dto = opts.resetTotp ? { password, resetTotp: true as const } : { password };
  await ensureFactoryAdmin(t);
  await t.app.get(UsersService).update(userId, dto, admin(), adminAbility());
}

export async function givenOrganization(t: TestApp, dto: CreateOrganizationDto): Promise<OrganizationView> {
  await ensureFactoryAdmin(t);
  return t.app.get(OrganizationsService).create(dto, admin(), adminAbility());
}

/**
 * A user and a valid access token, issued without going through /auth/login. An administrator's session has
 * also stepped up (written directly, without an access-log entry: POST /auth/step-up is tested on its own), so
 * that it may administer accounts and organisations for 10 minutes; `{ steppedUp: false }` leaves it out.
 */
export async function givenSignedIn(
  t: TestApp,
  dto: Partial<CreateUserDto> & Pick<CreateUserDto, 'role'>,
  opts: { steppedUp?: boolean } = {},
): Promise<{ user: UserView & { password: string }; token: string }> {
  const user = await givenUser(t, dto);
  const row = await t.app.get(UsersRepository).findById(user.id);
  const { accessToken } = await t.app.get(TokenService).issue(row!);
  if (dto.role === 'admin' && opts.steppedUp !== false) {
    const { jti } = JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')) as {
      jti: string;
    };
    await t.app
      .get(DataSource)
      .query(
        `INSERT INTO session_step_ups (token_id, user_id, expires_at) VALUES ($1, $2, now() + interval '10 minutes')`,
        [jti, user.id],
      );
  }
  return { user, token: accessToken };
}

/** Sets up TOTP for a user through the service; returns the secret. */
export async function givenTotp(t: TestApp, userId: string): Promise<string> {
  const totp = t.app.get(TotpService);
  const repo = t.app.get(UsersRepository);
  const { secret } = await totp.enroll((await repo.findById(userId))!);
  const user = (await repo.findById(userId))!;
  await totp.activate(user, await codeFor(secret, -30), user);
  return secret;
}

/**
 * A user with two-factor set up and a valid access token (issued without /auth/login, so no code is used up):
 * a step-up may take the current code, `codeFor(secret)`.
 */
export async function givenSignedInWithTotp(
  t: TestApp,
  dto: Partial<CreateUserDto> & Pick<CreateUserDto, 'role'>,
): Promise<{ user: UserView & { password: string }; token: string; secret: string }> {
  const user = await givenUser(t, dto);
  const secret = await givenTotp(t, user.id); // ends earlier sessions: the token comes after
  const { accessToken } = await t.app
    .get(TokenService)
    .issue((await t.app.get(UsersRepository).findById(user.id))!);
  return { user, token: accessToken, secret };
}

/**
 * The TOTP code of `secret` at now + offsetSeconds (codes one step apart are each accepted once), made at least
 * three seconds before the current step ends, so that it is checked in the step it was made for.
 */
export async function codeFor(secret: string, offsetSeconds = 0): Promise<string> {
  await clearOfTotpStepEnd();
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });
}
