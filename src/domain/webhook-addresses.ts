import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { LatchkeyError } from '../errors.js';

// Server-side request forgery: a webhook URL is a request Latchkey makes on an admin's behalf
// from inside the deployment's network. Addresses that reach the machine itself, the private
// network or a cloud's metadata service are refused when the URL is registered and again at
// every delivery, on the addresses the connection is actually made to (DNS can change).

const SPECIAL_USE: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, where cloud metadata services answer
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0:0', 96, 'ipv6'], // IPv4-translated (SIIT)
  ['64:ff9b::', 96, 'ipv6'], // NAT64: an IPv4 address behind a translator
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64
  ['2001::', 32, 'ipv6'], // Teredo, which tunnels to an IPv4 address
  ['2002::', 16, 'ipv6'], // 6to4, the same
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'], // unique local, including fd00:ec2::254, a metadata service
  ['fe80::', 10, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

// An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is checked against the IPv4 rules: BlockList
// applies them to mapped addresses.
const specialUse = new BlockList();
for (const [network, prefix, family] of SPECIAL_USE) specialUse.addSubnet(network, prefix, family);

export interface AddressPolicy {
  /** Networks (CIDR) an operator allows despite the rules: loopback in development, an internal receiver's subnet. */
  readonly allowedNetworks: readonly string[];
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

function allowList(policy: AddressPolicy): BlockList {
  const list = new BlockList();
  for (const network of policy.allowedNetworks) {
    const [address, prefix] = network.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), familyOf(address));
  }
  return list;
}

/** Whether Latchkey may connect to `address` (an IP address) under `policy`. */
export function isAllowedAddress(address: string, policy: AddressPolicy): boolean {
  const family = familyOf(address);
  return !specialUse.check(address, family) || allowList(policy).check(address, family);
}

function refusal(host: string, address: string): string {
  return `${host} resolves to ${address}, a loopback, private, link-local or reserved address; webhooks are only delivered to public addresses (LATCHKEY_WEBHOOK_ALLOWED_NETWORKS lists exceptions)`;
}

function refused(host: string, address: string): LatchkeyError {
  return new LatchkeyError('webhook.address_refused', refusal(host, address));
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
}

/** The host in brackets-free form: `new URL('http://[::1]/').hostname` is `[::1]`. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/**
 * Refuses a URL whose host is, or resolves to, an address the policy does not allow. Every
 * address the name has must be allowed: a connection may use any of them.
 */
export async function assertPublicUrl(url: URL, policy: AddressPolicy): Promise<void> {
  if (assertAllowedLiteral(url, policy)) return;
  const host = bareHost(url.hostname);
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    throw new LatchkeyError('webhook.unresolvable', `${host} does not resolve to an address`);
  }
  const blocked = addresses.find((entry) => !isAllowedAddress(entry.address, policy));
  if (blocked) throw refused(host, blocked.address);
}

/**
 * An IP address in a URL is connected to without a lookup, so guardedLookup never sees it:
 * this checks it. Returns whether the host was an address.
 */
export function assertAllowedLiteral(url: URL, policy: AddressPolicy): boolean {
  const host = bareHost(url.hostname);
  if (!isIP(host)) return false;
  if (!isAllowedAddress(host, policy)) throw refused(host, host);
  return true;
}

/**
 * A `lookup` for http.request that checks the addresses the socket will connect to, so a name
 * that resolved to a public address at registration cannot be pointed at an internal one later.
 * An IP address in the URL never reaches a lookup: callers check it with assertAllowedLiteral.
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    resolveAll(hostname).then(
      (addresses) => {
        const blocked = addresses.find((entry) => !isAllowedAddress(entry.address, policy));
        if (blocked) {
          callback(Object.assign(new Error(refusal(hostname, blocked.address)), { code: 'EADDRREFUSED' }), '');
        } else if (options.all) {
          callback(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
