/**
 * `npm run bench [-- --quick]`: Latchkey on PostgreSQL beside bare oidc-provider built from the
 * same configuration module and keys, loaded by autocannon from a process of its own. The full
 * run writes docs/benchmarks.md (exactly what it prints) and docs/benchmarks.json; the quick
 * one (under a minute) only prints. See docs/benchmarks.md for what is measured and how.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createDeps, type Deps } from '../src/deps.js';
import { deleteClient } from '../src/domain/clients.js';
import { loadKeys } from '../src/domain/keys.js';
import { createLogger } from '../src/log.js';
import { createProvider } from '../src/oidc/provider.js';
import type { BaselineReply, BaselineSetup } from './baseline.js';
import type { CannonJob, FlowJob, RequestSpec } from './load.js';
import { measure, idleRoundTripsPerMs, roundTripsPerRequest, type Sample } from './measure.js';
import { mintRefreshTokens } from './mint.js';
import { buildServer, freePort, repoRoot, startLatchkey, startNode, waitForDiscovery, type Child } from './processes.js';
import { rssMB, treeRssMB } from './proc.js';
import { renderReport, type Compared, type Results } from './report.js';
import { startRoundTripCounter } from './round-trips.js';
import { benchActor, createBenchDatabase, extraService, postgresVersion, prepareLogins, seed, type Fixture } from './setup.js';
import { median } from './stats.js';
import * as workloads from './workloads.js';

const quick = process.argv.includes('--quick');
const plan = quick
  ? { runs: 1, seconds: 1, warmup: 0.5, refreshTokens: 600, sequential: 20, argon2Seconds: 1, loginSeconds: 1, flowSeconds: 1.5, propagation: 2 }
  : { runs: 3, seconds: 10, warmup: 3, refreshTokens: 6000, sequential: 200, argon2Seconds: 5, loginSeconds: 8, flowSeconds: 10, propagation: 5 };
/** Every workload, on both sides: 20 clients at once (the p99 target is set at 20). */
const CONNECTIONS = 20;
const FLOW_CONCURRENCY = 8;
const STABILITY_SECONDS = 60;

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logDir = mkdtempSync(join(os.tmpdir(), 'latchkey-bench-'));

interface Target {
  name: 'latchkey' | 'baseline';
  origin: string;
  pid: number;
  postgres: boolean;
  /** Fresh refresh tokens of the web client, never used. */
  mint(count: number): Promise<string[]>;
}

const cannon = (origin: string, requests: RequestSpec[], options: { seconds?: number; once?: boolean; expectStatus?: number } = {}): CannonJob => ({
  type: 'cannon',
  origin,
  connections: CONNECTIONS,
  requests,
  expectStatus: options.expectStatus ?? 200,
  ...(options.once ? { once: true } : { duration: options.seconds ?? plan.seconds }),
});

async function main(): Promise<Results> {
  buildServer();
  const database = await createBenchDatabase(adminUrl);
  const children: Child[] = [];
  let deps: Deps | undefined;
  const tidy = async () => {
    await deps?.db.close();
    await Promise.all(children.map((child) => child.stop()));
    await database.drop();
  };
  // Ctrl-C leaves no server running and no database behind.
  const interrupted = () => {
    say('interrupted; stopping the servers and dropping the database');
    void tidy().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const secret = randomBytes(32).toString('base64url');
    const [portA, portB, portBaseline] = await Promise.all([freePort(), freePort(), freePort()]);
    // Production, behind a TLS-terminating proxy (see FORWARDED in workloads.ts).
    const behindProxy = (port: number) => ({ PORT: String(port), ISSUER: `https://127.0.0.1:${port}`, LATCHKEY_TRUST_PROXY: 'true', LATCHKEY_ENV: 'production' });
    const nodeEnv = (port: number, url: string) => ({ ...behindProxy(port), DATABASE_URL: url, LATCHKEY_SECRET: secret });
    const plainOrigin = (port: number) => `http://127.0.0.1:${port}`;
    const envA = nodeEnv(portA, database.url);
    say(`database ${new URL(database.url).pathname.slice(1)}; server logs in ${logDir}`);

    const nodeA = startLatchkey(envA, [], logDir, 'latchkey');
    children.push(nodeA);
    const originA = plainOrigin(portA);
    await waitForDiscovery(originA, nodeA);

    // A second node of the same deployment, talking to PostgreSQL through a counter: round
    // trips per request are read there, and changes made elsewhere must reach it.
    const dbUrl = new URL(database.url);
    const counter = await startRoundTripCounter({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) });
    const countedUrl = new URL(database.url);
    countedUrl.port = String(counter.port);
    const envB = nodeEnv(portB, countedUrl.toString());
    const nodeB = startLatchkey(envB, [], logDir, 'latchkey-second-node');
    children.push(nodeB);
    const load = startNode(['bench/load.ts'], { env: {}, logFile: join(logDir, 'load.log'), ipc: true });
    children.push(load);
    const baselineProcess = startNode(['bench/baseline.ts'], { env: {}, logFile: join(logDir, 'baseline.log'), ipc: true });
    children.push(baselineProcess);

    // This process is a third node: it seeds through the domain functions and mints tokens.
    const config = loadConfig({ ...envA, LATCHKEY_LOG_LEVEL: 'warn' });
    deps = await createDeps(config, { log: createLogger(config) });
    const fixture = await seed(deps);
    const keys = await loadKeys(deps);
    const latchkeyProvider = createProvider(deps, keys);
    const setup: BaselineSetup = {
      env: behindProxy(portBaseline),
      keys,
      clients: [fixture.service, fixture.web].map((client) => ({ row: client.row, secret: client.clientSecret })),
      resources: fixture.resources,
      user: fixture.user,
    };
    const ready = await baselineProcess.ask<BaselineReply>({ type: 'setup', setup });
    if (ready.type !== 'ready') throw new Error(`the baseline did not start: ${ready.type === 'failed' ? ready.message : ready.type}`);
    const originBaseline = plainOrigin(ready.port);
    const originB = plainOrigin(portB);
    await waitForDiscovery(originB, nodeB);

    const mintFor = (provider: typeof latchkeyProvider) => (count: number) =>
      mintRefreshTokens(provider, { clientId: fixture.web.clientId, accountId: fixture.user.id, count });
    const latchkey: Target = { name: 'latchkey', origin: originA, pid: nodeA.pid, postgres: true, mint: mintFor(latchkeyProvider) };
    const baseline: Target = {
      name: 'baseline',
      origin: originBaseline,
      pid: baselineProcess.pid,
      postgres: false,
      async mint(count) {
        const reply = await baselineProcess.ask<BaselineReply>({ type: 'mint', clientId: fixture.web.clientId, accountId: fixture.user.id, count });
        if (reply.type !== 'minted') throw new Error(`the baseline could not mint tokens: ${reply.type === 'failed' ? reply.message : reply.type}`);
        return reply.tokens;
      },
    };

    // Both servers settle meanwhile: their memory is read at idle right after.
    const idlePerMs = await idleRoundTripsPerMs(counter, quick ? 2000 : 5000);
    const idle = { latchkeyMB: rssMB(nodeA.pid), baselineMB: rssMB(baselineProcess.pid) };
    const sequentially = async (origin: string, specs: RequestSpec[], expectStatus = 200) => {
      for (const spec of specs) await workloads.send(origin, spec, expectStatus);
      return specs.length;
    };

    // Compared workloads: the same requests against both, runs alternating which goes first.
    const introspected = async (origin: string) =>
      String((await workloads.send(origin, workloads.clientCredentialsOpaque(fixture.service))).access_token);
    const definitions: {
      key: Compared['key'];
      title: string;
      target: number;
      requests(target: Target, count: number): Promise<{ specs: RequestSpec[]; once: boolean }>;
    }[] = [
      { key: 'cc_jwt', title: 'client_credentials, JWT access token (ES256)', target: 0.7, requests: async () => ({ specs: [workloads.clientCredentialsJwt(fixture.service)], once: false }) },
      { key: 'cc_opaque', title: 'client_credentials, opaque access token', target: 0.5, requests: async () => ({ specs: [workloads.clientCredentialsOpaque(fixture.service)], once: false }) },
      {
        key: 'introspection',
        title: 'introspection of a valid opaque token',
        target: 0.6,
        requests: async (target) => ({ specs: [workloads.introspection(fixture.service, await introspected(target.origin))], once: false }),
      },
      {
        key: 'refresh',
        title: 'refresh_token grant (rotation, new ID token)',
        target: 0.6,
        requests: async (target, count) => ({ specs: (await target.mint(count)).map((token) => workloads.refresh(fixture.web, token)), once: true }),
      },
      { key: 'jwks', title: 'JWKS', target: 0.9, requests: async () => ({ specs: [workloads.jwks], once: false }) },
      { key: 'discovery', title: 'discovery document', target: 0.9, requests: async () => ({ specs: [workloads.discovery], once: false }) },
    ];

    const compared: Compared[] = [];
    for (const definition of definitions) {
      say(`${definition.title}…`);
      const runOn = async (target: Target, seconds: number, count: number) => {
        const { specs, once } = await definition.requests(target, count);
        return measure(load, cannon(target.origin, specs, { seconds, once }), target.pid, { postgres: target.postgres });
      };
      for (const target of [latchkey, baseline]) await runOn(target, plan.warmup, Math.ceil(plan.refreshTokens / 10));
      const samples: Record<Target['name'], Sample[]> = { latchkey: [], baseline: [] };
      for (let run = 0; run < plan.runs; run += 1) {
        for (const target of run % 2 === 0 ? [latchkey, baseline] : [baseline, latchkey]) {
          samples[target.name].push(await runOn(target, plan.seconds, plan.refreshTokens));
        }
      }
      // The second node, through the counter (the same database, so the same tokens work there).
      const { specs } = await definition.requests({ ...latchkey, origin: originB }, plan.sequential);
      const list = specs.length === 1 ? Array.from({ length: plan.sequential }, () => specs[0]!) : specs;
      const roundTrips = await roundTripsPerRequest(counter, idlePerMs, () => sequentially(originB, list));
      compared.push({ key: definition.key, title: definition.title, target: definition.target, latchkey: samples.latchkey, baseline: samples.baseline, roundTrips });
    }

    // Latchkey alone: the argon2id bound, the login form post, whole sign-ins.
    say('argon2id bound…');
    const argon2: Results['argon2'] = [];
    for (let run = 0; run < plan.runs; run += 1) argon2.push(await argon2Bound(envA));
    const bound = median(argon2.map((run) => run.perSecond));

    say('logins…');
    const user = { email: fixture.user.email, password: fixture.password };
    const loginsPerRun = Math.max(40, Math.ceil(bound * plan.loginSeconds));
    const logins: Sample[] = [];
    await measure(load, cannon(originA, await prepareLogins(envA.ISSUER, fixture.web, user, 20), { once: true, expectStatus: 303 }), nodeA.pid, { postgres: true });
    for (let run = 0; run < plan.runs; run += 1) {
      const specs = await prepareLogins(envA.ISSUER, fixture.web, user, loginsPerRun);
      logins.push(await measure(load, cannon(originA, specs, { once: true, expectStatus: 303 }), nodeA.pid, { postgres: true }));
    }
    const loginSpecsB = await prepareLogins(envB.ISSUER, fixture.web, user, Math.min(plan.sequential, 50));
    const loginRoundTrips = await roundTripsPerRequest(counter, idlePerMs, () => sequentially(originB, loginSpecsB, 303));

    say('sign-ins (authorize, login, consent, token)…');
    const flowJob = (issuer: string, seconds: number, concurrency: number): FlowJob => ({
      type: 'flows',
      issuer,
      client: { clientId: fixture.web.clientId, clientSecret: fixture.web.clientSecret, redirectUri: workloads.REDIRECT_URI },
      user,
      concurrency,
      duration: seconds,
    });
    const flows: Sample[] = [];
    for (let run = 0; run < plan.runs; run += 1) flows.push(await measure(load, flowJob(envA.ISSUER, plan.flowSeconds, FLOW_CONCURRENCY), nodeA.pid, { postgres: true }));
    const flowRoundTrips = await roundTripsPerRequest(counter, idlePerMs, async () => {
      const sample = await measure(load, flowJob(envB.ISSUER, quick ? 1 : 3, 1), nodeB.pid, { postgres: false });
      return sample.requests;
    });

    say('change propagation to the second node…');
    const propagation: number[] = [];
    for (let run = 0; run < plan.propagation; run += 1) propagation.push(await propagationDelay(deps, originB, run));

    let stability: number[] | undefined;
    let workers: Results['workers'];
    if (!quick) {
      say(`memory over a ${STABILITY_SECONDS} s run…`);
      stability = [];
      const rss = stability;
      const sampler = setInterval(() => rss.push(rssMB(nodeA.pid)), 1000);
      try {
        await measure(load, cannon(originA, [workloads.clientCredentialsJwt(fixture.service)], { seconds: STABILITY_SECONDS }), nodeA.pid, { postgres: true });
      } finally {
        clearInterval(sampler);
      }
      say('serve --workers 1 and 2…');
      workers = { one: await workerRuns(envA, 1, fixture, load), two: await workerRuns(envA, 2, fixture, load) };
    }

    await counter.close();
    return {
      date: new Date().toISOString(),
      quick,
      machine: {
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
        cores: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        postgres: await postgresVersion(database.url),
        os: `${os.type()} ${os.release()}`,
      },
      settings: { connections: CONNECTIONS, seconds: plan.seconds, runs: plan.runs, refreshTokens: plan.refreshTokens, flowConcurrency: FLOW_CONCURRENCY, argon2: config.argon2 },
      compared,
      argon2,
      logins: { samples: logins, roundTrips: loginRoundTrips, perRun: loginsPerRun },
      flows: { samples: flows, roundTrips: flowRoundTrips },
      propagation: { delaysMs: propagation, pollIntervalMs: config.cache.pollIntervalMs },
      memory: { idle, stability },
      workers,
    };
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await tidy();
  }
}

/** Verifications a second at the configured argon2id parameters, in a process with the server's environment. */
async function argon2Bound(env: Record<string, string>): Promise<Results['argon2'][number]> {
  const child = startNode(['bench/argon2-bound.ts', String(plan.argon2Seconds)], { env, logFile: join(logDir, 'argon2.log') });
  await new Promise((resolve) => child.process.once('exit', resolve));
  const lines = readFileSync(join(logDir, 'argon2.log'), 'utf8').trim().split('\n');
  const result = JSON.parse(lines.at(-1) ?? '{}') as Partial<Results['argon2'][number]>;
  if (typeof result.perSecond !== 'number' || typeof result.cpuMsPerVerification !== 'number' || typeof result.poolSize !== 'number') {
    throw new Error(`the argon2id bound did not run; see ${join(logDir, 'argon2.log')}`);
  }
  return { perSecond: result.perSecond, cpuMsPerVerification: result.cpuMsPerVerification, poolSize: result.poolSize };
}

/**
 * How long a client deleted on one node keeps working on another: the second node serves the
 * client (so it is in its cache), this process deletes it, and the second node is asked every
 * 10 ms until it refuses.
 */
async function propagationDelay(deps: Deps, origin: string, run: number): Promise<number> {
  const client = await extraService(deps, `Propagation ${run}`);
  await workloads.send(origin, workloads.clientCredentialsOpaque(client));
  await deleteClient(deps, benchActor, client.clientId);
  const deleted = performance.now();
  for (;;) {
    const response = await fetch(new URL('/token', origin), {
      method: 'POST',
      headers: workloads.clientCredentialsOpaque(client).headers!,
      body: workloads.clientCredentialsOpaque(client).body!,
    });
    await response.body?.cancel();
    if (response.status === 401) return performance.now() - deleted;
    if (performance.now() - deleted > 30_000) throw new Error('a deleted client still worked on the second node after 30 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** client_credentials (JWT) against `serve --workers N` on the same database. */
async function workerRuns(env: Record<string, string>, count: number, fixture: Fixture, load: Child): Promise<Sample[]> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const node = startLatchkey({ ...env, PORT: String(port), ISSUER: `https://127.0.0.1:${port}` }, ['--workers', String(count)], logDir, `latchkey-workers-${count}`);
  try {
    await waitForDiscovery(origin, node);
    const job = (seconds: number) => cannon(origin, [workloads.clientCredentialsJwt(fixture.service)], { seconds });
    await measure(load, job(plan.warmup), node.pid, { postgres: true });
    const samples: Sample[] = [];
    for (let run = 0; run < plan.runs; run += 1) samples.push(await measure(load, job(plan.seconds), node.pid, { postgres: true }));
    return samples.map((sample) => ({ ...sample, peakRssMB: Math.max(sample.peakRssMB, treeRssMB(node.pid)) }));
  } finally {
    await node.stop();
  }
}

const started = performance.now();
try {
  const results = await main();
  const report = renderReport(results);
  process.stdout.write(report);
  if (!quick) {
    writeFileSync(join(repoRoot, 'docs/benchmarks.md'), report);
    writeFileSync(join(repoRoot, 'docs/benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
    say('wrote docs/benchmarks.md and docs/benchmarks.json');
  }
  say(`done in ${Math.round((performance.now() - started) / 1000)} s`);
  rmSync(logDir, { recursive: true, force: true });
} catch (error) {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  say(`server logs kept in ${logDir}`);
  process.exitCode = 1;
}
