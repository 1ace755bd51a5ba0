import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { addressAllowed, classifyAddress, parseIPv6 } from './address-policy.js';

describe('classifyAddress', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['169.254.169.254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:169.254.169.254', 'cloud metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:0101::1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['example.com', 'not an IP address'],
    ['127.1', 'not an IP address'],
    ['1::2::3', 'not an IP address'],
    ['', 'not an IP address'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  test('only public addresses are allowed, unless private ones are; a name never is', () => {
    expect(addressAllowed('8.8.8.8', false)).toBe(true);
    expect(addressAllowed('127.0.0.1', false)).toBe(false);
    expect(addressAllowed('127.0.0.1', true)).toBe(true);
    expect(addressAllowed('localhost', true)).toBe(false);
  });

  test('an IPv4 address mapped into IPv6 classifies as the IPv4 address itself', () => {
    fc.assert(
      fc.property(fc.ipV4(), (address) => {
        expect(classifyAddress(`::ffff:${address}`)).toBe(classifyAddress(address));
      }),
    );
  });

  test('parses every IPv6 text node:net accepts, the same way in its full and compressed forms', () => {
    fc.assert(
      fc.property(fc.ipV6(), (address) => {
        expect(isIP(address)).toBe(6);
        const value = parseIPv6(address);
        expect(value).toBeDefined();
        const full = Array.from({ length: 8 }, (_, i) => ((value! >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
        expect(parseIPv6(full)).toBe(value);
      }),
    );
  });
});
