import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, findForm } from '../helpers/browser.js';
import { go, isConsentPage, submitConsent, submitLogin, type RelyingParty, type Step } from '../helpers/rp.js';

/**
 * A browser that keeps each origin's cookies apart, as it would for two sites on different
 * hosts: Latchkey and its upstream (a second Latchkey on another port) use the same cookie names.
 */
export class SitesBrowser extends Browser {
  private readonly sites = new Map<string, Browser>();

  override async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const origin = new URL(url).origin;
    let site = this.sites.get(origin);
    if (!site) {
      site = new Browser();
      this.sites.set(origin, site);
    }
    return site.request(url, init);
  }
}

/** Presses "Continue with <provider>" on a login page and follows where it leads. */
export async function continueWith(browser: Browser, rp: RelyingParty, page: Step, providerId: string): Promise<Step> {
  const form = findForm(page.html, `/upstream/${providerId}`);
  const response = await browser.post(new URL(form.action, page.url), form.fields);
  const location = response.headers.get('location');
  if (response.status !== 303 || !location) return { url: page.url, response, html: await response.text() };
  return go(browser, rp, new URL(location, page.url));
}

/** Signs in on the upstream's login page (if it shows one) and follows back to Latchkey, through consent. */
export async function throughUpstream(browser: Browser, rp: RelyingParty, step: Step, user: { email: string; password: string }): Promise<Step> {
  let next = step;
  if (next.html.includes('/login"')) next = await submitLogin(browser, rp, next, user);
  if (isConsentPage(next)) next = await submitConsent(browser, rp, next);
  return next;
}

/**
 * A proxy in front of the upstream that can tamper with the ID tokens its token endpoint issues:
 * one byte of the signature changes, as an attacker between the two servers would make it.
 */
export interface TamperingProxy {
  url: string;
  port: number;
  tamper: boolean;
  close(): Promise<void>;
}

export async function startTamperingProxy(port: number, target: () => { host: string; port: number }): Promise<TamperingProxy> {
  const state = { tamper: false };
  // Forwarded as it came, Host header and all: the upstream builds its addresses from it.
  const server = http.createServer((request, response) => {
    const tampering = state.tamper && request.method === 'POST' && request.url === '/token';
    const forward = http.request({ ...target(), method: request.method, path: request.url, headers: { ...request.headers, 'accept-encoding': 'identity' } }, (answer) => {
      if (!tampering || answer.statusCode !== 200) {
        response.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(response);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id_token?: string };
        if (json.id_token) {
          const [header, payload, signature] = json.id_token.split('.');
          const bytes = Buffer.from(signature!, 'base64url');
          bytes[0] = bytes[0]! ^ 0x01;
          json.id_token = `${header}.${payload}.${bytes.toString('base64url')}`;
        }
        const body = Buffer.from(JSON.stringify(json));
        response.writeHead(200, { ...answer.headers, 'content-length': String(body.length) });
        response.end(body);
      });
    });
    forward.on('error', () => response.writeHead(502).end());
    request.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    get tamper() {
      return state.tamper;
    },
    set tamper(value: boolean) {
      state.tamper = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
