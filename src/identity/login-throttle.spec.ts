import { throttleAddress } from './login-throttle.service';

describe('the address sign-in failures count against', () => {
  it('an IPv6 client by its /64: every address of one end site shares a count', () => {
    const key = throttleAddress('2001:db8:aa:bb::1');
    expect(key).toBe('2001:db8:aa:bb::/64');
    for (const same of [
      '2001:db8:aa:bb:ffff:ffff:ffff:fffe',
      '2001:0db8:00aa:00bb:1:2:3:4',
      '2001:DB8:AA:BB::9%eth0',
    ])
      expect(throttleAddress(same)).toBe(key);
    expect(throttleAddress('2001:db8:aa:bc::1')).not.toBe(key);
    expect(throttleAddress('::1')).toBe('0:0:0:0::/64');
    expect(throttleAddress('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
    expect(throttleAddress('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('an IPv4 client by its address, written either way', () => {
    expect(throttleAddress('192.0.2.7')).toBe('192.0.2.7');
    expect(throttleAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(throttleAddress('192.0.2.8')).not.toBe('192.0.2.7');
    expect(throttleAddress('')).toBe('');
  });
});
