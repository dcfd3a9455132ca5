import { describe, expect, it } from 'vitest';
import { hostAllowed, parseHostPattern } from '../../src/endpoints/hosts.js';

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
  ])('refuses %j', (text) => {
    expect(parseHostPattern(text)).toBeUndefined();
  });
});

describe('hostAllowed', () => {
  const allowed = (url: string, hosts: readonly string[]) => hostAllowed(new URL(url), hosts);

  it('allows nothing by default', () => {
    expect(allowed('https://api.example.com/', [])).toBe(false);
  });

  it('allows an exact host on any port when no port is given', () => {
    const hosts = ['api.example.com'];
    expect(allowed('https://api.example.com/v1?q=1', hosts)).toBe(true);
    expect(allowed('http://api.example.com:8080/', hosts)).toBe(true);
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
    expect(allowed('http://10.0.0.5:8080/', ['10.0.0.5'])).toBe(true);
    expect(allowed('http://10.0.0.6/', ['10.0.0.5'])).toBe(false);
    expect(allowed('http://0x0a.0.0.5/', ['10.0.0.5'])).toBe(true);
    expect(allowed('http://[::1]:9000/', ['[::1]:9000'])).toBe(true);
    expect(allowed('http://[0:0::1]/', ['[::1]'])).toBe(true);
    expect(allowed('http://[::1]/', ['[0:0:0:0:0:0:0:1]'])).toBe(true);
    expect(allowed('http://[::2]/', ['[::1]'])).toBe(false);
    expect(allowed('http://127.0.0.1/', ['[::1]', 'localhost'])).toBe(false);
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
