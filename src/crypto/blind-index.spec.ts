import fc from 'fast-check';
import {
  normalizeDateOfBirth,
  normalizeName,
  normalizeNameReference,
  normalizePhone,
} from './blind-index.normalize';
import { BLIND_INDEX_BITS, BlindIndexService } from './blind-index.service';
import { BLIND_INDEX_FIELDS } from './crypto.types';
import { CryptoFixture, cryptoErrorOf, givenCrypto } from './crypto.spec-helpers';

const NFC = (s: string) => s.normalize('NFC');
const NFD = (s: string) => s.normalize('NFD');

describe('blind index normalisation', () => {
  it.each([
    ['Nguyễn Thị Hoà', 'nguyen thi hoa'],
    [NFD('Nguyễn Thị Hoà'), 'nguyen thi hoa'],
    ['NGUYỄN THỊ HÒA', 'nguyen thi hoa'],
    ['  nguyễn   thị\t\nhòa  ', 'nguyen thi hoa'],
    ['Đặng Văn Đức', 'dang van duc'],
    ['đặng văn đức', 'dang van duc'],
    ['Ðặng Văn Ðức', 'dang van duc'], // Icelandic Ð typed for Đ
    ['Lê Thị Thuỷ', 'le thi thuy'],
    ['Lê Thị Thủy', 'le thi thuy'],
    ['Trần Khoẻ', 'tran khoe'],
    ['Trần Khỏe', 'tran khoe'],
    ['Lê-Văn  Tám.', 'le van tam'],
    ['Ｎｇｕｙễｎ', 'nguyen'], // full-width letters
    ['Ngu\u00ADyễn Thị Lan', 'nguyen thi lan'], // a soft hyphen pasted inside a word
    ['Ngu\u200Byễn\u200D Thị\uFEFF Lan', 'nguyen thi lan'], // zero-width space and joiner, byte-order mark
    ['Nguyễn\u00AD \u2060Thị Lan', 'nguyen thi lan'],
    ['  ', ''],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeName(input)).toBe(expected);
    expect(normalizeNameReference(input)).toBe(expected);
  });

  it('folds tone-placement variants: old style (hoà, thuỷ) and new style (hòa, thủy), NFC and NFD', () => {
    const variants = [
      ['hoà', 'hòa'],
      ['thuỷ', 'thủy'],
      ['khoẻ', 'khỏe'],
      ['loã', 'lõa'],
      ['quý', 'qúy'],
    ];
    for (const [oldStyle, newStyle] of variants) {
      const forms = [oldStyle, newStyle].flatMap((v) => [NFC(v), NFD(v), v.toUpperCase()]);
      const normalised = new Set(forms.map(normalizeName));
      expect(normalised.size).toBe(1);
    }
    // The two spellings really are different strings before normalisation.
    expect(NFC('hoà')).not.toBe(NFC('hòa'));
    expect(NFC('thuỷ')).not.toBe(NFC('thủy'));
  });

  it('fast path agrees with the reference definition and is idempotent (property)', () => {
    const alphabet = fc.constantFrom(
      ...'aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ',
      '\u0300',
      '\u0301',
      '\u0303',
      '\u0309',
      '\u0323',
      '\u0302',
      '\u0306',
      '\u031b',
      ' ',
      '\t',
      '-',
      '.',
      "'",
      '0',
      '9',
      'ß',
      'Σ',
      'ς',
      'İ',
      'ℌ',
      'ﬁ',
      'Ǆ',
      '½',
      '\u00ad',
      '中',
      '😀',
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (chars) => {
        const s = chars.join('');
        const n = normalizeName(s);
        expect(n).toBe(normalizeNameReference(s));
        expect(normalizeName(n)).toBe(n);
        expect(normalizeName(NFC(s))).toBe(normalizeName(NFD(s)));
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['0912345678', '0912345678'],
    ['0912 345 678', '0912345678'],
    ['0912.345.678', '0912345678'],
    ['0912-345-678', '0912345678'],
    ['+84 912 345 678', '0912345678'],
    ['+84912345678', '0912345678'],
    ['(+84) 912-345-678', '0912345678'],
    ['+84 (0) 912 345 678', '0912345678'],
    ['0084 912 345 678', '0912345678'],
    ['84912345678', '0912345678'],
    ['912345678', '0912345678'],
    ['024 3826 1234', '02438261234'],
    ['+84 24 3826 1234', '02438261234'],
    ['843456789', '0843456789'],
    ['111', '111'],
    ['+1 (415) 555-0100', '+14155550100'],
    ['０９１２３４５６７８', '0912345678'],
  ])('normalises phone %j to %j', (input, expected) => {
    expect(normalizePhone(input)).toBe(expected);
  });

  it('rejects phone input that is not a number', async () => {
    for (const bad of ['call me', '09x2345678', '12', '', '+84 912 345 678 ext 5']) {
      expect(await cryptoErrorOf(() => normalizePhone(bad))).toBe('crypto.invalid_input');
    }
  });

  it.each([
    ['2010-03-05', '2010-03-05'],
    ['2010-3-5', '2010-03-05'],
    ['05/03/2010', '2010-03-05'],
    ['5/3/2010', '2010-03-05'],
    ['05-03-2010', '2010-03-05'],
    ['05.03.2010', '2010-03-05'],
    [' 29/02/2012 ', '2012-02-29'],
  ])('normalises date of birth %j to %j', (input, expected) => {
    expect(normalizeDateOfBirth(input)).toBe(expected);
  });

  it('rejects impossible dates of birth', async () => {
    for (const bad of [
      '2010-02-30',
      '31/04/2010',
      '29/02/2011',
      '2010/03/05',
      '03/2010',
      '1850-01-01',
      'hôm qua',
    ]) {
      expect(await cryptoErrorOf(() => normalizeDateOfBirth(bad))).toBe('crypto.invalid_input');
    }
  });
});

describe('BlindIndexService', () => {
  let fixture: CryptoFixture;
  let index: BlindIndexService;

  beforeAll(async () => {
    fixture = await givenCrypto();
    index = fixture.crypto.blindIndex;
  });
  afterAll(() => fixture.cleanup());

  it(`is ${BLIND_INDEX_BITS} bits, and equal for every way of typing the same name`, () => {
    const a = index.fullName('Nguyễn Thị Hoà');
    expect(a.length * 8).toBe(BLIND_INDEX_BITS);
    for (const variant of [NFD('Nguyễn Thị Hoà'), 'NGUYỄN THỊ HÒA', ' nguyen  thi hoa ', 'Nguyen Thi Hoa']) {
      expect(index.fullName(variant).equals(a)).toBe(true);
    }
    expect(index.fullName('Nguyễn Thị Hoa Mai').equals(a)).toBe(false);
  });

  it('matches name + date of birth across spellings and date formats', () => {
    const a = index.fullNameDob('Lê Thị Thuỷ', '2009-07-01');
    expect(index.fullNameDob(NFD('LÊ THỊ THỦY'), '01/07/2009').equals(a)).toBe(true);
    expect(index.fullNameDob('Lê Thị Thuỷ', '2009-07-02').equals(a)).toBe(false);
  });

  it('matches a date of birth alone across date formats', () => {
    const a = index.dateOfBirth('2009-07-01');
    expect(index.dateOfBirth(' 01/07/2009 ').equals(a)).toBe(true);
    expect(index.dateOfBirth('2009-07-02').equals(a)).toBe(false);
    // Hashed as the ISO date, under its own key (checked with the others below).
    expect(index.canonical('dateOfBirth', '01/07/2009')).toBe('2009-07-01');
  });

  it('matches phone formats', () => {
    expect(index.phone('+84 912 345 678').equals(index.phone('0912.345.678'))).toBe(true);
    expect(index.phone('0912345678').equals(index.phone('0912345679'))).toBe(false);
  });

  it('uses a different key per field: the same input gives different indexes', () => {
    const digits = '0912345678';
    // Same canonical text for both fields, so only the per-field key can make them differ.
    expect(index.canonical('fullName', digits)).toBe(index.canonical('phone', digits));
    expect(index.fullName(digits).equals(index.phone(digits))).toBe(false);
    const keys = BLIND_INDEX_FIELDS.map((f) => fixture.crypto.keys.blindIndexKey(f).toString('hex'));
    expect(new Set(keys).size).toBe(BLIND_INDEX_FIELDS.length);
  });

  it('is keyed: another installation (other root secret) gives other indexes', async () => {
    const other = await givenCrypto();
    try {
      expect(
        other.crypto.blindIndex.fullName('Nguyễn Thị Hoà').equals(index.fullName('Nguyễn Thị Hoà')),
      ).toBe(false);
    } finally {
      other.cleanup();
    }
  });

  it('is stable across restarts with the same keys', async () => {
    const again = await fixture.reopen();
    expect(again.blindIndex.phone('0912345678').equals(index.phone('0912345678'))).toBe(true);
  });

  it('refuses values with nothing searchable in them', async () => {
    expect(await cryptoErrorOf(() => index.fullName(' - . '))).toBe('crypto.invalid_input');
    expect(await cryptoErrorOf(() => index.fullNameDob('', '2009-07-01'))).toBe('crypto.invalid_input');
    expect(await cryptoErrorOf(() => index.dateOfBirth('2009-02-30'))).toBe('crypto.invalid_input');
  });
});
