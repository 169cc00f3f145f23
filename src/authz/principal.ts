import type { RequestContext } from '../common/http/request-context';
import type { Sector } from '../directory/organization.entity';
import type { Role } from '../identity/user.entity';

/** The signed-in caller, as loaded from the database on every request (never trusted from the token). */
export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  /** ward_officer: the communes served. Empty for every other role. */
  readonly wardCodes: readonly string[];
  /** provider: its organisation and that organisation's sector. */
  readonly organizationId: string | null;
  readonly sector: Sector | null;
  /**
   * provider: its organisation's province as this request's session read it (the access log's jurisdiction of
   * its entries, current on every instance); absent where a principal is made without a session.
   */
  readonly organizationProvince?: string | null;
  /** supervisor: the province of the jurisdiction, null for a national supervisor. Null for other roles. */
  readonly provinceCode: string | null;
  /**
   * Signed in with the password only because two-factor authentication is required and not yet set up. Like a
   * session whose password must change, it holds the Session rules only (ability.factory.ts): see itself, set
   * up two-factor, change its password, step up, sign out; nothing else.
   */
  readonly enrollmentOnly: boolean;
  /**
   * An administrator set the account's password (creation, reset) and the user has not chosen their own yet:
   * the Session rules only, as above.
   */
  readonly passwordChangeRequired: boolean;
  /**
   * One of the demo's own accounts while the demo runs (demoRelaxed, identity/demo-accounts.ts): asked for no
   * step-up (step-up.ts), as it is asked for no two-factor. False everywhere else.
   */
  readonly demoRelaxed: boolean;
  /**
   * The account is the demo's (seeded by it, or made by one of its accounts: `demo_account`), the demo running:
   * what it makes is the demo's too (UsersService).
   */
  readonly demoAccount: boolean;
  /** The access token's id (jti) and expiry, for sign-out. */
  readonly tokenId: string;
  readonly tokenExpiresAt: Date;
  /**
   * The account's token version the session was issued under (checked on every request): what a step that must
   * not outlive a disabling or a reset made during the request checks again under a lock (break-glass open).
   */
  readonly tokenVersion: number;
  /** The request this principal came with: its id, address and user agent go into every access-log entry it causes. */
  readonly request: RequestContext;
}
