/** An absolute http(s) URL without a fragment (redirect URIs, RFC 6749 §3.1.2). */
export function isRedirectUri(value: string): boolean {
  const url = parse(value);
  return url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:') && url.hash === '' && !value.includes('#');
}

/** RFC 8707 §2: an absolute URI without a fragment; https, or http for an API on this machine. */
export function isResourceIdentifier(value: string): boolean {
  const url = parse(value);
  return url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) && !value.includes('#');
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/** A bare origin such as https://app.example or http://localhost:3000. */
export function isOrigin(value: string): boolean {
  const url = parse(value);
  return url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
}

function parse(value: string): URL | undefined {
  // Control characters would be percent-encoded by URL but kept in the string we store.
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
