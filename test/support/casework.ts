import request from 'supertest';
import type { TestApp } from './app';
import { startTestApp } from './app';

/** Factories for case-work tests. They go through the HTTP API as the demo roles, so every rule applies. */

export const DEMO_PASSWORD = 'demo-password-for-tests-only';

export async function startDemoApp(env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp({ HAVEN_DEMO: '1', HAVEN_DEMO_PASSWORD: DEMO_PASSWORD, ...env });
}

export type Tokens = Record<string, string>;

export async function signInAll(t: TestApp, usernames: string[]): Promise<Tokens> {
  const tokens: Tokens = {};
  for (const username of usernames) {
    const res = await request(t.app.getHttpServer())
      .post('/api/v1/auth/login')
      .send({ username, password: DEMO_PASSWORD })
      .expect(200);
    tokens[username] = res.body.accessToken as string;
    // The administrator will administer accounts and organisations: that asks for a step-up.
    if (username === 'admin') {
      await request(t.app.getHttpServer())
        .post('/api/v1/auth/step-up')
        .set('Authorization', `Bearer ${tokens[username]}`)
        .send({ password: DEMO_PASSWORD })
        .expect(200);
    }
  }
  return tokens;
}

export async function organizationId(t: TestApp, token: string, name: string): Promise<string> {
  const res = await request(t.app.getHttpServer())
    .get('/api/v1/organizations')
    .set('Authorization', `Bearer ${token}`)
    .expect(200);
  const org = (res.body.items as { id: string; name: string }[]).find((o) => o.name === name);
  if (!org) throw new Error(`no organisation named ${name}`);
  return org.id;
}

/** A consent on the case, given as `body` says (organisation or sector, categories, …); returns its id. */
export async function giveConsent(
  t: TestApp,
  token: string,
  caseId: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await request(t.app.getHttpServer())
    .post(`/api/v1/cases/${caseId}/consents`)
    .set('Authorization', `Bearer ${token}`)
    .send(body)
    .expect(201);
  return res.body.id as string;
}

/** A referral of the case to the organisation under the consent (police protection, with a note). */
export async function refer(
  t: TestApp,
  token: string,
  caseId: string,
  organizationId: string,
  consentId: string,
  urgency = 'urgent',
): Promise<Record<string, any>> {
  const res = await request(t.app.getHttpServer())
    .post(`/api/v1/cases/${caseId}/referrals`)
    .set('Authorization', `Bearer ${token}`)
    .send({ organizationId, consentId, services: ['police_protection'], urgency, note: 'ghi chú giả' })
    .expect(201);
  return res.body as Record<string, any>;
}

let n = 0;

/**
 * A case body for commune 00145 with fictional, clearly synthetic data. With another `reportedAt`, the incident
 * is dated on that report's day (an incident after its report is refused).
 */
export function caseBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  n++;
  const reportedAt = typeof overrides.reportedAt === 'string' ? overrides.reportedAt : undefined;
  return {
    wardCode: '00145',
    reportedAt: '2026-11-20T09:00:00+07:00',
    reportChannel: 'walk_in',
    survivor: {
      fullName: `Thử Nghiệm Số ${n}`,
      sex: 'female',
      dateOfBirth: '1990-01-15',
      phone: `0900 000 ${String(100 + n).padStart(3, '0')}`,
      address: `Địa chỉ giả ${n}`,
    },
    incident: {
      occurredAt: reportedAt ? reportedAt.slice(0, 10) : '2026-11-19T21:00:00+07:00',
      forms: ['physical', 'psychological'],
      gbvType: 'physical_assault',
      narrative: `Tường thuật giả định số ${n}`,
    },
    perpetrator: { fullName: `Người Giả ${n}`, relationship: 'spouse' },
    health: { injuries: 'vết bầm giả định' },
    risk: { level: 'high' },
    ...overrides,
  };
}
