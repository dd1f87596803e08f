import type { ResourceServerOptions } from './server.js';

const DEFAULT_PORT = 4000;

/**
 * The options from environment variables. Throws one error naming every variable that is
 * missing or wrong, so a first run tells the whole story at once.
 */
export function resourceServerOptionsFromEnv(env: NodeJS.ProcessEnv): ResourceServerOptions {
  const problems: string[] = [];
  const value = (name: string, meaning: string): string => {
    const found = env[name]?.trim();
    if (!found) problems.push(`${name} is not set: ${meaning}`);
    return found ?? '';
  };
  const url = (name: string, meaning: string, fallback?: string): string => {
    const found = env[name]?.trim() || fallback;
    if (!found) problems.push(`${name} is not set: ${meaning}`);
    else if (!isHttpUrl(found)) problems.push(`${name} is not an http(s) URL: ${meaning}`);
    return found ?? '';
  };

  const portText = env.PORT?.trim() || String(DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT is not a port number (0-65535): ${portText}`);

  const options: ResourceServerOptions = {
    issuer: url('ISSUER', "Latchkey's URL, e.g. http://localhost:3000"),
    resource: url('API_RESOURCE', "this API's resource identifier in Latchkey (latchkey resources create --identifier)", `http://localhost:${portText}`),
    introspectionClientId: value('INTROSPECTION_CLIENT_ID', "the client_id of this API's introspection client"),
    introspectionClientSecret: value('INTROSPECTION_CLIENT_SECRET', "the client_secret of this API's introspection client"),
    port,
  };
  if (problems.length > 0) throw new Error(`cannot start the example API:\n  ${problems.join('\n  ')}\nSee examples/resource-server/README.md.`);
  return options;
}

function isHttpUrl(value: string): boolean {
  const protocol = URL.parse(value)?.protocol;
  return protocol === 'http:' || protocol === 'https:';
}
