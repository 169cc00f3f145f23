import type { Principal } from '../../src/authz/principal';

/**
 * A principal as the access guard would hand it to a service, for specs and calls without HTTP: a signed-in
 * account of `role` with no scope, in a session and request of its own; `over` sets the rest.
 */
export function givenPrincipal(over: Partial<Principal> & Pick<Principal, 'role'>): Principal {
  return {
    userId: '10000000-0000-4000-8000-000000000000',
    username: 'someone',
    wardCodes: [],
    organizationId: null,
    sector: null,
    provinceCode: null,
    enrollmentOnly: false,
    passwordChangeRequired: false,
    demoRelaxed: false,
    demoAccount: false,
    tokenId: '20000000-0000-4000-8000-000000000000',
    tokenExpiresAt: new Date(0),
    tokenVersion: 1,
    request: { requestId: '5bec4e0e57000001' },
    ...over,
  };
}
