/**
 * Which IP addresses the exchange may call on a provider's behalf (pure: strings in, verdicts out).
 * A node URL that reaches the exchange's own network (loopback, private ranges, link-local, cloud
 * metadata) would make the worker a proxy into it, so those are refused unless a setting allows
 * them (tests and local development run nodes on 127.0.0.1).
 */

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared (CGNAT)'
  | 'link-local'
  | 'cloud metadata'
  | 'multicast'
  | 'reserved'
  | 'not an IP address';

interface Range {
  readonly base: bigint;
  readonly bits: number;
  readonly kind: AddressClass;
}

const v4 = (cidr: string, kind: AddressClass): Range => {
  const [address, bits] = cidr.split('/');
  return { base: parseIPv4(address)!, bits: Number(bits), kind };
};
const v6 = (cidr: string, kind: AddressClass): Range => {
  const [address, bits] = cidr.split('/');
  return { base: parseIPv6(address)!, bits: Number(bits), kind };
};

/** Most specific first: the metadata addresses sit inside link-local and CGNAT ranges. */
const IPV4_RANGES: readonly Range[] = [
  v4('169.254.169.254/32', 'cloud metadata'), // AWS, GCP, Azure, OpenStack
  v4('100.100.100.200/32', 'cloud metadata'), // Alibaba Cloud
  v4('0.0.0.0/8', 'unspecified'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('100.64.0.0/10', 'shared (CGNAT)'),
  v4('169.254.0.0/16', 'link-local'),
  v4('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  v4('192.0.2.0/24', 'reserved'), // documentation
  v4('198.18.0.0/15', 'reserved'), // benchmarking
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // and 255.255.255.255, broadcast
];

const IPV6_RANGES: readonly Range[] = [
  v6('fd00:ec2::254/128', 'cloud metadata'), // AWS over IPv6
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fc00::/7', 'private'), // unique local (ULA)
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'private'), // site-local, deprecated but still routed by some stacks
  v6('ff00::/8', 'multicast'),
  v6('100::/64', 'reserved'), // discard
  v6('2001:db8::/32', 'reserved'), // documentation
];

/** IPv6 forms that carry an IPv4 address a gateway will reach: the embedded one decides. */
const EMBEDS_IPV4: ReadonlyArray<{ base: bigint; bits: number; at: number }> = [
  { base: parseIPv6('::ffff:0:0')!, bits: 96, at: 0 }, // IPv4-mapped
  { base: parseIPv6('::')!, bits: 96, at: 0 }, // IPv4-compatible (deprecated)
  { base: parseIPv6('64:ff9b::')!, bits: 96, at: 0 }, // NAT64
  { base: parseIPv6('2002::')!, bits: 16, at: 80 }, // 6to4: the IPv4 address follows the prefix
];

const inRange = (value: bigint, width: number, base: bigint, bits: number) => value >> BigInt(width - bits) === base >> BigInt(width - bits);

/** The class of an IPv4 or IPv6 address (IPv4-mapped and other IPv4-carrying IPv6 forms by their IPv4 address). */
export function classifyAddress(address: string): AddressClass {
  const plain = address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''); // brackets and an IPv6 zone id
  const four = parseIPv4(plain);
  if (four !== undefined) return IPV4_RANGES.find((r) => inRange(four, 32, r.base, r.bits))?.kind ?? 'public';
  const six = parseIPv6(plain);
  if (six === undefined) return 'not an IP address';
  const direct = IPV6_RANGES.find((r) => inRange(six, 128, r.base, r.bits));
  if (direct) return direct.kind;
  for (const form of EMBEDS_IPV4) {
    if (inRange(six, 128, form.base, form.bits)) {
      const embedded = (six >> BigInt(form.at)) & 0xffff_ffffn;
      return IPV4_RANGES.find((r) => inRange(embedded, 32, r.base, r.bits))?.kind ?? 'public';
    }
  }
  return 'public';
}

/** Whether the exchange may call `address`: only public addresses, unless private ones are allowed. Never a non-address. */
export function addressAllowed(address: string, allowPrivate: boolean): boolean {
  const kind = classifyAddress(address);
  return kind === 'public' || (allowPrivate && kind !== 'not an IP address');
}

/** Dotted-quad IPv4 (four decimal parts, no leading zeros) as a 32-bit number; undefined otherwise. */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** IPv6 text (with `::` and an optional dotted IPv4 tail) as a 128-bit number; undefined otherwise. */
export function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.split('::').length > 2) return undefined;
  let groups: string[];
  const tail = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let head = text;
  const extra: number[] = [];
  if (tail) {
    const four = parseIPv4(tail[1]);
    if (four === undefined) return undefined;
    extra.push(Number(four >> 16n), Number(four & 0xffffn));
    head = text.slice(0, text.length - tail[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const want = 8 - extra.length;
  if (head.includes('::')) {
    const [left, right] = head.split('::');
    const l = left ? left.split(':') : [];
    const r = right ? right.split(':') : [];
    if (l.length + r.length >= want) return undefined;
    groups = [...l, ...Array<string>(want - l.length - r.length).fill('0'), ...r];
  } else {
    groups = head ? head.split(':') : [];
    if (groups.length !== want) return undefined;
  }
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  for (const group of extra) value = (value << 16n) | BigInt(group);
  return value;
}
