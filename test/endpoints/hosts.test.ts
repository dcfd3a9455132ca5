import { describe, expect, it } from 'vitest';
import {
  addressRefusal,
  hostAllowed,
  parseHostPattern,
  specialAddressKind,
} from '../../src/endpoints/hosts.js';

describe('parseHostPattern', () => {
  it.each([
    ['api.example.com', { host: 'api.example.com' }],
    ['API.Example.COM', { host: 'api.example.com' }],
    ['  api.example.com  ', { host: 'api.example.com' }],
    ['*.example.com', { host: '*.example.com' }],
    ['*.example.com:8443', { host: '*.example.com', port: '8443' }],
    ['localhost', { host: 'localhost' }],
    ['10.0.0.5', { host: '10.0.0.5' }],
    ['10.0.0.5:8080', { host: '10.0.0.5', port: '8080' }],
    ['[::1]', { host: '[::1]' }],
    ['[::1]:9000', { host: '[::1]', port: '9000' }],
    ['[0:0:0:0:0:0:0:1]', { host: '[::1]' }],
    ['[2001:DB8::1]', { host: '[2001:db8::1]' }],
    ['[::ffff:10.0.0.5]', { host: '[::ffff:a00:5]' }],
    ['example.com:1', { host: 'example.com', port: '1' }],
    ['example.com:65535', { host: 'example.com', port: '65535' }],
    ['example.com:0443', { host: 'example.com', port: '443' }],
    // Ranges of addresses, written as CIDR: IPv6 in brackets, a port after the prefix length.
    ['10.0.0.0/8', { host: '10.0.0.0', prefix: 8 }],
    ['192.168.4.0/24:8080', { host: '192.168.4.0', prefix: 24, port: '8080' }],
    ['127.0.0.1/32', { host: '127.0.0.1', prefix: 32 }],
    ['0.0.0.0/0', { host: '0.0.0.0', prefix: 0 }],
    ['[fd00::]/8', { host: '[fd00::]', prefix: 8 }],
    ['[FD12:3456::]/32:9000', { host: '[fd12:3456::]', prefix: 32, port: '9000' }],
  ])('reads %j', (text, pattern) => {
    expect(parseHostPattern(text)).toEqual(pattern);
  });

  it.each([
    '',
    '*',
    '*.',
    'example.com:0',
    'example.com:65536',
    'example.com:99999',
    'example.com:',
    'example.com:http',
    'https://example.com',
    'example.com/path',
    'user@example.com',
    'exa mple.com',
    'example..com',
    '.example.com',
    'bücher.example',
    '*example.com',
    'api.*.example.com',
    '**.example.com',
    '::1',
    '[::1',
    '[:::::]',
    '[example.com]',
    '[1.2.3.4]',
    '*.[::1]',
    // A wildcard over an address would match addresses: *.0.0.5 would let 10.0.0.5 through.
    '*.0.0.5',
    '*.10.0.0.5',
    // Read by a URL parser as other addresses than written.
    '010.0.0.5',
    '1.2.3',
    '0x0a.0.0.5',
    '256.1.1.1',
    // A range must say exactly which addresses it holds: no bits past the prefix, no name, no wildcard.
    '10.0.0.1/8',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '[fd00::1]/8',
    '[::]/129',
    'fd00::/8',
    'example.com/8',
    '*.example.com/8',
    '10.0.0.0/8/8',
  ])('refuses %j', (text) => {
    expect(parseHostPattern(text)).toBeUndefined();
  });
});

describe('hostAllowed', () => {
  const allowed = (url: string, hosts: readonly string[]) => hostAllowed(new URL(url), hosts);

  it('allows nothing by default', () => {
    expect(allowed('https://api.example.com/', [])).toBe(false);
  });

  it('allows an exact host on ports 80 and 443 only when no port is given', () => {
    const hosts = ['api.example.com'];
    expect(allowed('https://api.example.com/v1?q=1', hosts)).toBe(true);
    expect(allowed('http://api.example.com/', hosts)).toBe(true);
    expect(allowed('http://api.example.com:443/', hosts)).toBe(true);
    expect(allowed('https://api.example.com:80/', hosts)).toBe(true);
    expect(allowed('http://api.example.com:8080/', hosts)).toBe(false);
    expect(allowed('https://api.example.com:22/', hosts)).toBe(false);
    expect(allowed('http://api.example.com:8080/', ['api.example.com:8080'])).toBe(true);
    expect(allowed('https://other.example.com/', hosts)).toBe(false);
    expect(allowed('https://x.api.example.com/', hosts)).toBe(false);
    expect(allowed('https://api.example.com.evil.net/', hosts)).toBe(false);
    expect(allowed('https://evil.net/api.example.com', hosts)).toBe(false);
    expect(allowed('https://api.example.com@evil.net/', hosts)).toBe(false);
  });

  it('ignores case on both sides', () => {
    expect(allowed('https://API.EXAMPLE.com/', ['api.example.com'])).toBe(true);
    expect(allowed('https://api.example.com/', ['Api.Example.Com'])).toBe(true);
    expect(allowed('https://A.Example.COM/', ['*.EXAMPLE.com'])).toBe(true);
  });

  it('lets a wildcard match any subdomain but not the domain itself nor a look-alike', () => {
    const hosts = ['*.example.com'];
    expect(allowed('https://api.example.com/', hosts)).toBe(true);
    expect(allowed('https://a.b.example.com/', hosts)).toBe(true);
    expect(allowed('https://example.com/', hosts)).toBe(false);
    expect(allowed('https://badexample.com/', hosts)).toBe(false);
    expect(allowed('https://api.example.com.evil.net/', hosts)).toBe(false);
    expect(allowed('https://example.com.', hosts)).toBe(false);
  });

  it('holds a port to it, with 80 and 443 as the defaults of http and https', () => {
    expect(allowed('https://api.example.com/', ['api.example.com:443'])).toBe(true);
    expect(allowed('https://api.example.com:443/', ['api.example.com:443'])).toBe(true);
    expect(allowed('http://api.example.com/', ['api.example.com:443'])).toBe(false);
    expect(allowed('http://api.example.com/', ['api.example.com:80'])).toBe(true);
    expect(allowed('https://api.example.com/', ['api.example.com:80'])).toBe(false);
    expect(allowed('https://api.example.com:8443/', ['api.example.com:8443'])).toBe(true);
    expect(allowed('https://api.example.com:8444/', ['api.example.com:8443'])).toBe(false);
    expect(allowed('https://api.example.com/', ['api.example.com:0443'])).toBe(true);
    expect(allowed('https://x.example.com:8443/', ['*.example.com:8443'])).toBe(true);
    expect(allowed('https://x.example.com/', ['*.example.com:8443'])).toBe(false);
  });

  it('matches addresses as the URL parser writes them', () => {
    expect(allowed('http://10.0.0.5/', ['10.0.0.5'])).toBe(true);
    expect(allowed('http://10.0.0.5:8080/', ['10.0.0.5'])).toBe(false);
    expect(allowed('http://10.0.0.5:8080/', ['10.0.0.5:8080'])).toBe(true);
    expect(allowed('http://10.0.0.6/', ['10.0.0.5'])).toBe(false);
    expect(allowed('http://0x0a.0.0.5/', ['10.0.0.5'])).toBe(true);
    expect(allowed('http://[::1]:9000/', ['[::1]:9000'])).toBe(true);
    expect(allowed('http://[::1]:9000/', ['[::1]'])).toBe(false);
    expect(allowed('http://[0:0::1]/', ['[::1]'])).toBe(true);
    expect(allowed('http://[::1]/', ['[0:0:0:0:0:0:0:1]'])).toBe(true);
    expect(allowed('http://[::2]/', ['[::1]'])).toBe(false);
    expect(allowed('http://127.0.0.1/', ['[::1]', 'localhost'])).toBe(false);
  });

  it('lets a range allow the addresses written in a URL that it holds, on its ports', () => {
    expect(allowed('http://10.1.2.3/', ['10.0.0.0/8'])).toBe(true);
    expect(allowed('http://11.1.2.3/', ['10.0.0.0/8'])).toBe(false);
    expect(allowed('http://10.1.2.3:8080/', ['10.0.0.0/8'])).toBe(false);
    expect(allowed('http://10.1.2.3:8080/', ['10.0.0.0/8:8080'])).toBe(true);
    expect(allowed('http://0x0a.1.2.3/', ['10.0.0.0/8'])).toBe(true);
    expect(allowed('http://[fd00::5]/', ['[fd00::]/8'])).toBe(true);
    expect(allowed('http://[fe80::5]/', ['[fd00::]/8'])).toBe(false);
    // A range holds addresses, never names.
    expect(allowed('http://ten.example.com/', ['10.0.0.0/8'])).toBe(false);
    expect(allowed('http://10.1.2.3/', ['[::]/0'])).toBe(false);
  });

  it('never lets a wildcard over an address through', () => {
    expect(allowed('http://10.0.0.5/', ['*.0.0.5'])).toBe(false);
    expect(allowed('http://10.0.0.5/', ['*.5'])).toBe(false);
  });

  it('skips entries that are not host patterns and uses the rest', () => {
    expect(allowed('https://api.example.com/', ['not a host', 'api.example.com'])).toBe(true);
    expect(allowed('https://api.example.com/', ['https://api.example.com'])).toBe(false);
  });
});

describe('specialAddressKind', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['0.0.0.0', 'an unspecified address'],
    ['0.1.2.3', 'an unspecified address'],
    ['::', 'an unspecified address'],
    ['10.0.0.5', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.31.255.255', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['100.64.0.1', 'a carrier-grade NAT address'],
    ['100.127.255.255', 'a carrier-grade NAT address'],
    ['169.254.169.254', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['fe80::1%eth0', 'a link-local address'],
    ['febf::1', 'a link-local address'],
    ['fc00::1', 'a unique-local address'],
    ['fd12:3456::1', 'a unique-local address'],
    ['224.0.0.1', 'a multicast address'],
    ['239.255.255.250', 'a multicast address'],
    ['ff02::1', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['240.0.0.1', 'a reserved address'],
    // IPv4 inside IPv6: mapped, NAT64 and the deprecated compatible form reach the IPv4 address.
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['::ffff:10.0.0.5', 'a private address'],
    ['::ffff:169.254.169.254', 'a link-local address'],
    ['::ffff:0.0.0.0', 'an unspecified address'],
    ['::ffff:100.64.0.1', 'a carrier-grade NAT address'],
    ['::ffff:224.0.0.1', 'a multicast address'],
    ['64:ff9b::a00:5', 'a private address'],
    ['::10.0.0.5', 'a private address'],
    ['2002:7f00:1::', 'a loopback address'],
    ['[::1]', 'a loopback address'],
  ])('%s is %s', (address, kind) => {
    expect(specialAddressKind(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.0.1',
    '223.255.255.255',
    '2001:db8::1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('%s is an ordinary address', (address) => {
    expect(specialAddressKind(address)).toBeUndefined();
  });
});

describe('addressRefusal', () => {
  const refusal = (url: string, address: string, hosts: readonly string[]) =>
    addressRefusal(new URL(url), address, hosts);

  it('lets an allowed name reach ordinary addresses', () => {
    expect(refusal('https://api.example.com/', '93.184.216.34', ['api.example.com'])).toBeUndefined();
    expect(refusal('https://api.example.com/', '2606:2800::1', ['api.example.com'])).toBeUndefined();
  });

  it('refuses a special address the allow-list does not name, saying what to add', () => {
    expect(refusal('https://api.example.com/', '10.0.0.5', ['api.example.com'])).toEqual({
      address: '10.0.0.5',
      kind: 'a private address',
      entry: '10.0.0.5',
    });
    expect(refusal('http://api.example.com:8080/', '::1', ['api.example.com:8080'])).toEqual({
      address: '::1',
      kind: 'a loopback address',
      entry: '[::1]:8080',
    });
    expect(refusal('http://api.example.com/', '::ffff:127.0.0.1', ['api.example.com'])?.kind).toBe(
      'a loopback address',
    );
  });

  it('lets an address or a range that holds it allow it, on the ports the entry allows', () => {
    const url = 'http://scada.internal:8080/';
    expect(refusal(url, '10.0.0.7', ['scada.internal:8080', '10.0.0.7:8080'])).toBeUndefined();
    expect(refusal(url, '10.0.0.7', ['scada.internal:8080', '10.0.0.0/8:8080'])).toBeUndefined();
    expect(refusal(url, '10.0.0.7', ['scada.internal:8080', '10.0.0.7'])?.entry).toBe('10.0.0.7:8080');
    expect(refusal(url, '10.0.0.7', ['scada.internal:8080', '10.0.0.8:8080'])).toBeDefined();
    expect(refusal(url, '10.0.0.7', ['scada.internal:8080', '192.168.0.0/16:8080'])).toBeDefined();
    // The IPv4-mapped form of an allowed address is that address.
    expect(refusal(url, '::ffff:10.0.0.7', ['scada.internal:8080', '10.0.0.7:8080'])).toBeUndefined();
    expect(refusal(url, 'fd00::7', ['scada.internal:8080', '[fd00::]/8:8080'])).toBeUndefined();
  });

  it('takes localhost in the allow-list to mean loopback, and nothing else', () => {
    expect(refusal('http://localhost:9000/', '127.0.0.1', ['localhost:9000'])).toBeUndefined();
    expect(refusal('http://localhost:9000/', '::1', ['localhost:9000'])).toBeUndefined();
    expect(refusal('http://app.localhost/', '127.0.0.1', ['*.localhost'])).toBeUndefined();
    expect(refusal('http://localhost:9000/', '10.0.0.5', ['localhost:9000'])?.kind).toBe('a private address');
    // Another name that happens to resolve to loopback is not an allowance of loopback.
    expect(refusal('http://upstream.test:9000/', '127.0.0.1', ['upstream.test:9000'])?.kind).toBe(
      'a loopback address',
    );
  });
});
