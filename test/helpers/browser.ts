/**
 * A browser as far as the sign-in pages care: a cookie jar, manual redirects, and form posts
 * read from the HTML the server renders.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();

  /**
   * `send` is how requests leave (the benchmark's reaches a server behind a TLS-terminating
   * proxy); `languages` is the Accept-Language every request sends, as a browser's settings do.
   */
  constructor(
    private readonly send: typeof fetch = fetch,
    private readonly languages?: string,
  ) {}

  cookieValues(): string[] {
    return [...this.cookies.values()];
  }

  cookieNames(): string[] {
    return [...this.cookies.keys()];
  }

  /** The Cookie header this browser sends (every cookie it holds). */
  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', this.cookieHeader());
    headers.set('accept', headers.get('accept') ?? 'text/html');
    if (this.languages && !headers.has('accept-language')) headers.set('accept-language', this.languages);
    const response = await this.send(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) this.store(line);
    return response;
  }

  private store(line: string) {
    const [pair, ...attributes] = line.split(';');
    const index = pair!.indexOf('=');
    const name = pair!.slice(0, index).trim();
    const value = pair!.slice(index + 1).trim();
    const expired = attributes.some((attribute) => {
      const [key, attributeValue] = attribute.trim().split('=');
      if (key?.toLowerCase() === 'max-age') return Number(attributeValue) <= 0;
      if (key?.toLowerCase() === 'expires') return new Date(attributeValue ?? '').getTime() < Date.now();
      return false;
    });
    if (expired || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }

  /** GET, following redirects until `stop` says so or a non-redirect answers. */
  async follow(url: string | URL, stop: (url: URL) => boolean = () => false): Promise<{ url: URL; response: Response }> {
    let current = new URL(url);
    for (let hops = 0; hops < 20; hops += 1) {
      if (stop(current)) return { url: current, response: new Response(null, { status: 204 }) };
      const response = await this.request(current);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      await response.body?.cancel();
      current = new URL(location, current);
    }
    throw new Error('too many redirects');
  }

  /** POSTs a form as a browser would (urlencoded) and returns the raw response. */
  async post(url: string | URL, fields: Record<string, string>): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
}

export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

/** The forms on a page: action and the named inputs with their values. */
export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = /action="([^"]*)"/.exec(match[1]!)?.[1] ?? '';
    const fields: Record<string, string> = {};
    for (const input of match[2]!.matchAll(/<input\b([^>]*)>/g)) {
      const name = /name="([^"]*)"/.exec(input[1]!)?.[1];
      if (name) fields[name] = decodeEntities(/value="([^"]*)"/.exec(input[1]!)?.[1] ?? '');
    }
    forms.push({ action: decodeEntities(action), fields });
  }
  return forms;
}

export function findForm(html: string, actionEndsWith: string): HtmlForm {
  const form = parseForms(html).find((candidate) => candidate.action.endsWith(actionEndsWith));
  if (!form) throw new Error(`no form posting to *${actionEndsWith} on the page:\n${html}`);
  return form;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** A page as the browser landed on it, after redirects. */
export interface Page {
  url: URL;
  status: number;
  html: string;
  headers: Headers;
}

/** GET, following redirects; `url` may be a path on `base` (the issuer). */
export async function openPage(browser: Browser, url: string | URL, base?: string): Promise<Page> {
  const { url: landed, response } = await browser.follow(new URL(url, base));
  return { url: landed, status: response.status, html: await response.text(), headers: response.headers };
}

/** Submits the page's form that posts to `action`, with its hidden fields (`_csrf`) and `fields` on top. */
export async function submitPage(browser: Browser, page: { url: URL; html: string }, action: string, fields: Record<string, string> = {}): Promise<Page> {
  const form = findForm(page.html, action);
  const response = await browser.post(new URL(form.action, page.url), { ...form.fields, ...fields });
  return { url: page.url, status: response.status, html: await response.text(), headers: response.headers };
}

/** The first link on a page whose (decoded) href matches. */
export function linkOn(html: string, pattern: RegExp): string | undefined {
  return [...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&')).find((candidate) => pattern.test(candidate));
}

/**
 * Opens a page of one of Latchkey's own apps (the console, the account page), signs in on the
 * login page it sends the browser to, and returns the page it lands back on.
 */
export async function signInThrough(browser: Browser, start: string, user: { email: string; password: string }): Promise<Page> {
  const login = await openPage(browser, start);
  const form = findForm(login.html, '/login');
  const posted = await browser.post(new URL(form.action, login.url), { ...form.fields, email: user.email, password: user.password });
  const location = posted.headers.get('location');
  if (posted.status !== 303 || !location) throw new Error(`sign-in answered ${posted.status}`);
  return openPage(browser, new URL(location, login.url));
}
