import type { RelyingPartyOptions } from './app.js';

const DEFAULT_PORT = 8080;

/**
 * The options from environment variables. Throws one error naming every variable that is
 * missing or wrong, so a first run tells the whole story at once.
 */
export function relyingPartyOptionsFromEnv(env: NodeJS.ProcessEnv): RelyingPartyOptions {
  const problems: string[] = [];
  const value = (name: string, meaning: string): string => {
    const found = env[name]?.trim();
    if (!found) problems.push(`${name} is not set: ${meaning}`);
    return found ?? '';
  };
  const url = (name: string, meaning: string): string => {
    const found = value(name, meaning);
    if (found && !isHttpUrl(found)) problems.push(`${name} is not an http(s) URL: ${meaning}`);
    return found;
  };

  const portText = env.PORT?.trim() || String(DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT is not a port number (0-65535): ${portText}`);

  const options: RelyingPartyOptions = {
    issuer: url('ISSUER', "Latchkey's URL, e.g. http://localhost:3000"),
    clientId: value('CLIENT_ID', 'the client_id `latchkey clients create` printed for this app'),
    clientSecret: value('CLIENT_SECRET', 'the client_secret `latchkey clients create` printed for this app (shown once)'),
    apiUrl: url('API_URL', 'the example API endpoint to call, e.g. http://localhost:4000/api/hello'),
    port,
  };
  const apiResource = env.API_RESOURCE?.trim();
  if (apiResource) {
    if (!URL.canParse(apiResource)) problems.push("API_RESOURCE is not a URI: the API's resource identifier in Latchkey");
    options.apiResource = apiResource;
  }
  if (problems.length > 0) throw new Error(`cannot start the example app:\n  ${problems.join('\n  ')}\nSee examples/relying-party/README.md.`);
  return options;
}

function isHttpUrl(value: string): boolean {
  const protocol = URL.parse(value)?.protocol;
  return protocol === 'http:' || protocol === 'https:';
}
