import { DomainError } from '../common/errors/domain-error';
import {
  atLeast,
  DEFAULT_RESPONSE_DEADLINES,
  dueAt,
  ReferralState,
  ReferralStatus,
  referralDeadline,
  ReferralTransitions as T,
  statutoryUrgency,
} from './referral-state';

const at = new Date('2026-11-23T03:00:00Z');
const base = (status: ReferralStatus): ReferralState => ({
  status,
  acceptedAt: null,
  acceptedBy: null,
  declinedAt: null,
  completedAt: null,
  outcome: null,
  servicesDelivered: null,
  revokedAt: null,
  revokeCause: null,
  dueAt: at,
});

const MOVES: Record<string, (r: ReferralState) => ReferralState> = {
  accept: (r) => T.accept(r, 'u1', at),
  decline: (r) => T.decline(r, at),
  complete: (r) => T.complete(r, 'services_delivered', at),
  revoke: (r) => T.revoke(r, 'ward', at),
};

// The whole transition table of the product brief: every (state, move) pair, allowed or 409.
const ALLOWED: Record<ReferralStatus, Partial<Record<keyof typeof MOVES, ReferralStatus>>> = {
  pending: { accept: 'accepted', decline: 'declined', revoke: 'revoked' },
  accepted: { complete: 'completed', revoke: 'revoked' },
  declined: {},
  completed: {},
  revoked: {},
};

describe('referral transitions', () => {
  for (const [from, allowed] of Object.entries(ALLOWED) as [
    ReferralStatus,
    Record<string, ReferralStatus>,
  ][]) {
    for (const move of Object.keys(MOVES)) {
      const to = allowed[move];
      it(`${from} --${move}--> ${to ?? '409 conflict.state'}`, () => {
        if (to) {
          expect(MOVES[move](base(from)).status).toBe(to);
        } else {
          let error: unknown;
          try {
            MOVES[move](base(from));
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).code).toBe('conflict.state');
        }
      });
    }
  }

  it('refuses a completion whose services contradict its outcome (422), and takes one that does not', () => {
    const refused = (
      outcome: Parameters<typeof T.complete>[1],
      services: Parameters<typeof T.complete>[3],
    ) => {
      try {
        T.complete(base('accepted'), outcome, at, services);
      } catch (error) {
        return (error as DomainError).code;
      }
      return null;
    };
    expect(refused('services_delivered', [])).toBe('unprocessable');
    expect(refused('unable_to_contact', ['investigation'])).toBe('unprocessable');
    expect(refused('services_delivered', ['investigation'])).toBeNull();
    expect(refused('services_delivered', null)).toBeNull();
    expect(refused('client_declined', ['investigation'])).toBeNull();
    expect(refused('unable_to_contact', [])).toBeNull();
  });

  it('records who accepted, the outcome and the revocation cause', () => {
    expect(T.accept(base('pending'), 'user-7', at)).toMatchObject({ acceptedBy: 'user-7', acceptedAt: at });
    expect(T.complete(base('accepted'), 'referred_onward', at)).toMatchObject({ outcome: 'referred_onward' });
    expect(T.revoke(base('accepted'), 'consent_withdrawn', at)).toMatchObject({
      revokeCause: 'consent_withdrawn',
    });
  });
});

describe('response deadlines', () => {
  it('defaults to 2 h, 12 h and 5 days', () => {
    expect(dueAt(at, 'emergency', DEFAULT_RESPONSE_DEADLINES).toISOString()).toBe('2026-11-23T05:00:00.000Z');
    expect(dueAt(at, 'urgent', DEFAULT_RESPONSE_DEADLINES).toISOString()).toBe('2026-11-23T15:00:00.000Z');
    expect(dueAt(at, 'routine', DEFAULT_RESPONSE_DEADLINES).toISOString()).toBe('2026-11-28T03:00:00.000Z');
  });
});

describe('statutory urgency (12 h)', () => {
  const child = (riskLevel: string | null, childVn: boolean | null = true) => ({ childVn, riskLevel });

  it('is urgent for a child under 16 at high or critical risk, and for a no-contact order', () => {
    expect(statutoryUrgency(child('high'), ['medical_care'])).toBe('urgent');
    expect(statutoryUrgency(child('critical'), [])).toBe('urgent');
    expect(statutoryUrgency(child('medium'), ['medical_care'])).toBeNull();
    expect(statutoryUrgency(child('critical', false), ['medical_care'])).toBeNull();
    expect(statutoryUrgency(child('critical', null), ['medical_care'])).toBeNull();
    expect(statutoryUrgency(child('low', false), ['legal_aid', 'no_contact_order'])).toBe('urgent');
  });

  it('takes a risk not assessed yet (null) as high for a child under 16 only', () => {
    expect(statutoryUrgency(child(null), [])).toBe('urgent');
    expect(statutoryUrgency(child(null, false), [])).toBeNull();
    expect(statutoryUrgency(child(null, null), [])).toBeNull();
  });

  it('is due within 12 h whatever the configured urgent deadline, and never later than asked', () => {
    const slow = { emergency: 600, urgent: 48 * 60, routine: 7 * 24 * 60 };
    expect(referralDeadline('routine', 'urgent', slow)).toEqual({ urgency: 'urgent', dueMinutes: 12 * 60 });
    expect(referralDeadline('emergency', 'urgent', slow)).toEqual({ urgency: 'emergency', dueMinutes: 600 });
    expect(referralDeadline('routine', null, slow)).toEqual({ urgency: 'routine', dueMinutes: 7 * 24 * 60 });
  });

  it('raises a less urgent referral and never lowers a more urgent one', () => {
    expect(atLeast('routine', 'urgent')).toBe('urgent');
    expect(atLeast('urgent', 'urgent')).toBe('urgent');
    expect(atLeast('emergency', 'urgent')).toBe('emergency');
    expect(atLeast('routine', null)).toBe('routine');
  });
});
