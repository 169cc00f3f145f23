import { throttleAddress, throttleNetwork } from './login-throttle.service';

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

  it('an IPv6 client by its /48 as well (a site rotating through its /64s); none for IPv4', () => {
    const net = throttleNetwork('2001:db8:aa:bb::1');
    expect(net).toBe('2001:db8:aa::/48');
    for (const same of ['2001:db8:aa:ffff::2', '2001:0db8:00aa::', '2001:DB8:AA:1:2:3:4:5%eth0'])
      expect(throttleNetwork(same)).toBe(net);
    expect(throttleNetwork('2001:db8:ab::1')).not.toBe(net);
    expect(throttleNetwork('::1')).toBe('0:0:0::/48');
    for (const v4 of ['192.0.2.7', '::ffff:192.0.2.7', '']) expect(throttleNetwork(v4)).toBeNull();
  });
});
