import { organizationName, organizationNameKey } from './organization-name';

describe('organizationNameKey', () => {
  it.each([
    ['case and spaces', 'Công an phường  Long Biên', 'CÔNG AN PHƯỜNG LONG BIÊN'],
    ['decomposed and composed', 'Đồn công an'.normalize('NFD'), 'Đồn công an'],
    ['the tone of oa on either vowel', 'Trạm y tế phường Yên Hòa', 'Trạm y tế phường Yên Hoà'],
    ['the tone of uy on either vowel', 'Công an xã Thủy Nguyên', 'Công an xã Thuỷ Nguyên'],
    ['the tone of oe on either vowel', 'Trạm y tế Hòe Nhai', 'Trạm y tế Hoè Nhai'],
    ['a dot below on either vowel', 'Công an xã Ngọa Long', 'Công an xã Ngoạ Long'],
    ['a tone on o before a closed syllable (a slip)', 'Hòang Mai', 'Hoàng Mai'],
    ['Icelandic Ð (older encodings) as Đ', 'Ðồn công an', 'Đồn công an'],
    ['invisible characters', 'Trạm\u200b y\u00ad tế\u2060', 'Trạm y tế'],
  ])('takes as one name: %s', (_, a, b) => {
    expect(organizationNameKey(a)).toBe(organizationNameKey(b));
  });

  it.each([
    ['other tones', 'Yên Hòa', 'Yên Hóa'],
    ['o and ô', 'Hòa', 'Hồa'],
    ['u and ư', 'Thủy', 'Thửy'],
    ['d and đ', 'Dồn', 'Đồn'],
  ])('keeps apart: %s', (_, a, b) => {
    expect(organizationNameKey(a)).not.toBe(organizationNameKey(b));
  });

  it('is composed (NFC), as stored names are', () => {
    const key = organizationNameKey('Công an xã Thủy Nguyên'.normalize('NFD'));
    expect(key).toBe(key.normalize('NFC'));
    expect(key).toBe('công an xã thuỷ nguyên');
    expect(organizationName('  Yên Hòa ')).toBe('Yên Hòa');
  });
});
