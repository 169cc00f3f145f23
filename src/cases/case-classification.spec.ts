import { ageGroup, ageOn, caseCode, deriveTriage, vietnamYear } from './case-classification';

const reportedAt = new Date('2026-11-23T10:00:00Z');

describe('case classification', () => {
  it('computes whole years, counting the birthday itself', () => {
    expect(ageOn('2010-11-23', reportedAt)).toBe(16);
    expect(ageOn('2010-11-24', reportedAt)).toBe(15);
    expect(ageOn('2008-12-01', reportedAt)).toBe(17);
  });

  it('counts days and years by the calendar in Vietnam (UTC+7), not UTC', () => {
    // 00:30 on 5 March in Vietnam is still 4 March in UTC: the 16th birthday has come in Vietnam.
    const earlyMorning = new Date('2026-03-05T00:30:00+07:00');
    expect(ageOn('2010-03-05', earlyMorning)).toBe(16);
    expect(ageOn('2010-03-06', earlyMorning)).toBe(15);
    expect(ageOn('2010-03-05', new Date('2026-03-04T23:59:00+07:00'))).toBe(15);
    // 1 January 06:00 in Vietnam is 31 December in UTC: the case belongs to the new year's numbers.
    expect(vietnamYear(new Date('2027-01-01T06:00:00+07:00'))).toBe(2027);
    expect(vietnamYear(new Date('2026-12-31T23:59:00+07:00'))).toBe(2026);
  });

  it.each([
    [0, '0-5'],
    [5, '0-5'],
    [6, '6-11'],
    [11, '6-11'],
    [12, '12-15'],
    [15, '12-15'],
    [16, '16-17'],
    [17, '16-17'],
    [18, '18-59'],
    [59, '18-59'],
    [60, '60+'],
    [null, 'unknown'],
  ] as const)('age %s → group %s', (age, group) => {
    expect(ageGroup(age)).toBe(group);
  });

  it('reports a child under both definitions: under 16 (Vietnamese law) and under 18 (GBVIMS)', () => {
    const base = { reportedAt, forms: ['physical'] as const, gbvType: 'physical_assault' as const };
    expect(deriveTriage({ ...base, dateOfBirth: '2010-11-24' })).toMatchObject({
      childVn: true,
      childGbvims: true,
    });
    expect(deriveTriage({ ...base, ageYears: 16 })).toMatchObject({ childVn: false, childGbvims: true });
    expect(deriveTriage({ ...base, ageYears: 18 })).toMatchObject({ childVn: false, childGbvims: false });
    expect(deriveTriage({ ...base })).toMatchObject({
      ageGroup: 'unknown',
      childVn: null,
      childGbvims: null,
    });
  });

  it('derives context flags and keeps the ones given', () => {
    const t = deriveTriage({
      reportedAt,
      ageYears: 14,
      forms: ['sexual'],
      gbvType: 'forced_marriage',
      relationship: 'spouse',
      contexts: ['trafficking'],
    });
    expect(t.contexts).toEqual(['intimate_partner', 'child_sexual_abuse', 'trafficking', 'early_marriage']);
    expect(deriveTriage({ reportedAt, ageYears: 30, forms: ['sexual'], gbvType: 'rape' }).contexts).toEqual(
      [],
    );
  });

  it('judges the child contexts at the incident, the child flags at the report', () => {
    // Born 1 June 2008: 17 on 20 May 2026 (the rape, the forced marriage), 18 at the report on 5 June.
    const at = new Date('2026-06-05T09:00:00+07:00');
    const facts = { dateOfBirth: '2008-06-01', reportedAt: at, forms: ['sexual'] as const };
    const rape = deriveTriage({ ...facts, gbvType: 'rape', incidentDate: '2026-05-20' });
    expect(rape).toMatchObject({ ageYears: 18, childGbvims: false, contexts: ['child_sexual_abuse'] });
    expect(
      deriveTriage({
        ...facts,
        forms: ['psychological'],
        gbvType: 'forced_marriage',
        incidentDate: '2026-05-31',
      }).contexts,
    ).toEqual(['early_marriage']);
    // On the 18th birthday, or with no incident date (the age at the report), or an age alone: not a child's.
    expect(deriveTriage({ ...facts, gbvType: 'rape', incidentDate: '2026-06-01' }).contexts).toEqual([]);
    expect(deriveTriage({ ...facts, gbvType: 'rape' }).contexts).toEqual([]);
    expect(
      deriveTriage({
        reportedAt: at,
        ageYears: 18,
        forms: ['sexual'],
        gbvType: 'rape',
        incidentDate: '2026-05-20',
      }).contexts,
    ).toEqual([]);
  });

  it('formats non-identifying case codes', () => {
    expect(caseCode('01', 2026, 123)).toBe('HV01-2026-000123');
  });
});
