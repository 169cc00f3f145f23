import { consentMisfit, sameConsentAge, survivorAgeAt } from './consent-age';

const at = (iso: string) => new Date(iso);

describe('survivorAgeAt (the age the consent rules take: now, not at the report)', () => {
  it('from a date of birth: her age at the moment, by the calendar in Vietnam, and when she turns 18', () => {
    const facts = { dateOfBirth: '2010-05-17' };
    const reported = at('2026-01-05T03:00:00Z');
    // 16 on 17 May 2026 at 00:00 in Vietnam (16 May, 17:00 UTC).
    expect(survivorAgeAt(facts, reported, at('2026-05-16T16:59:59Z'))).toMatchObject({ childVn: true });
    expect(survivorAgeAt(facts, reported, at('2026-05-16T17:00:00Z'))).toEqual({
      childVn: false,
      childGbvims: true,
      adultFrom: at('2028-05-16T17:00:00Z'),
    });
    expect(survivorAgeAt(facts, reported, at('2028-05-16T17:00:00Z'))).toMatchObject({ childGbvims: false });
    // A 29 February's birthday is 1 March in a year without one.
    expect(
      survivorAgeAt({ dateOfBirth: '2012-02-29' }, reported, at('2026-06-01T00:00:00Z')).adultFrom,
    ).toEqual(at('2030-02-28T17:00:00Z'));
  });

  it('from the age at the report: the youngest she can be now (whole years since the report)', () => {
    const reported = at('2024-03-01T02:00:00Z'); // 1 March 2024 in Vietnam
    const fifteen = { ageYears: 15 };
    // Still 15 for the rules until a whole year has passed, though her birthday may have come.
    expect(survivorAgeAt(fifteen, reported, at('2025-02-28T16:59:59Z'))).toMatchObject({ childVn: true });
    expect(survivorAgeAt(fifteen, reported, at('2025-02-28T17:00:00Z'))).toMatchObject({
      childVn: false,
      childGbvims: true,
    });
    // Known to be 18 three years after the report.
    expect(survivorAgeAt(fifteen, reported, at('2026-01-01T00:00:00Z')).adultFrom).toEqual(
      at('2027-02-28T17:00:00Z'),
    );
    expect(survivorAgeAt({ ageYears: 40 }, reported, at('2026-01-01T00:00:00Z'))).toMatchObject({
      childVn: false,
      childGbvims: false,
    });
  });

  it('no date of birth and no age: unknown (no rule applies, no end is set)', () => {
    expect(survivorAgeAt({}, at('2026-01-01T00:00:00Z'), at('2026-06-01T00:00:00Z'))).toEqual({
      childVn: null,
      childGbvims: null,
      adultFrom: null,
    });
  });
});

describe('consentMisfit and sameConsentAge', () => {
  const child = survivorAgeAt(
    { dateOfBirth: '2014-01-01' },
    at('2026-01-05T03:00:00Z'),
    at('2026-06-01T00:00:00Z'),
  );
  const adult = survivorAgeAt({ ageYears: 30 }, at('2026-01-05T03:00:00Z'), at('2026-06-01T00:00:00Z'));

  it('refuses a duty to an adult, a child under 16 alone, and a duty that would outlast the 18th birthday', () => {
    const duty = { legalBasis: 'child_protection_duty' as const };
    expect(consentMisfit({ ...duty, expiresAt: null }, adult)?.en).toMatch(/not a child/);
    expect(consentMisfit({ givenBy: 'survivor', expiresAt: null }, child)?.en).toMatch(/under 16/);
    expect(consentMisfit({ givenBy: 'guardian', expiresAt: null }, child)).toBeNull();
    expect(consentMisfit({ ...duty, expiresAt: null }, child)?.en).toMatch(/turns 18/);
    expect(consentMisfit({ ...duty, expiresAt: child.adultFrom }, child)).toBeNull();
    expect(
      consentMisfit({ ...duty, expiresAt: new Date(child.adultFrom!.getTime() + 1) }, child),
    ).not.toBeNull();
  });

  it('takes two ages as one for consents when every rule judges them alike', () => {
    const otherAdult = survivorAgeAt(
      { ageYears: 50 },
      at('2026-01-05T03:00:00Z'),
      at('2026-06-01T00:00:00Z'),
    );
    expect(sameConsentAge(adult, otherAdult)).toBe(true);
    const otherChild = survivorAgeAt(
      { dateOfBirth: '2014-02-01' },
      at('2026-01-05T03:00:00Z'),
      at('2026-06-01T00:00:00Z'),
    );
    // Both 12, but not 18 on the same day: a duty's end differs.
    expect(sameConsentAge(child, otherChild)).toBe(false);
    expect(
      sameConsentAge(child, survivorAgeAt({}, at('2026-01-05T03:00:00Z'), at('2026-06-01T00:00:00Z'))),
    ).toBe(false);
  });
});
