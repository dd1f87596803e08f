import type { Sample } from './measure.js';
import { median, spread } from './stats.js';

export interface Compared {
  key: 'cc_jwt' | 'cc_opaque' | 'introspection' | 'refresh' | 'jwks' | 'discovery';
  title: string;
  /** The share of the baseline's requests/s Latchkey should reach. */
  target: number;
  latchkey: Sample[];
  baseline: Sample[];
  roundTrips: number;
}

export interface Results {
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; postgres: string; os: string };
  settings: {
    connections: number;
    seconds: number;
    runs: number;
    refreshTokens: number;
    flowConcurrency: number;
    argon2: { memoryKib: number; time: number; parallelism: number };
  };
  compared: Compared[];
  /** The argon2id bound, one entry per run: verifications a second, CPU each, and how many ran at once. */
  argon2: { perSecond: number; cpuMsPerVerification: number; poolSize: number }[];
  logins: { samples: Sample[]; roundTrips: number; perRun: number };
  flows: { samples: Sample[]; roundTrips: number };
  propagation: { delaysMs: number[]; pollIntervalMs: number };
  memory: { idle: { latchkeyMB: number; baselineMB: number }; stability: number[] | undefined };
  workers: { one: Sample[]; two: Sample[] } | undefined;
}

/** Keycloak's sizing guide, per vCPU of the Keycloak pods. */
const KEYCLOAK = { clientCredentials: 120, refresh: 120, logins: 15, podMB: 1250 };
const TARGETS = { p99OverP50: 5, idleMB: 150, loadMB: 300, stabilityGrowth: 0.05, propagationMs: 2000, loginsOfBound: 0.9, roundTripsCc: 2 };

const rate = (sample: Sample) => sample.requests / sample.seconds;
const rates = (samples: Sample[]) => samples.map(rate);
const fixed = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number) => (value < 10 ? fixed(value, 1) : fixed(value));
const percent = (value: number) => `${fixed(value * 100)}%`;
const withSpread = (values: number[]) => `${fixed(median(values))}${values.length > 1 ? ` ±${percent(spread(values))}` : ''}`;
const mark = (met: boolean) => (met ? 'met' : '**missed**');
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
/** Requests for each CPU second the server used: the figure Keycloak gives per vCPU. */
const perCpuSecond = (samples: Sample[]) => median(samples.map((sample) => sample.requests / Math.max(sample.serverCpu, 1e-9)));
const perCpuSecondWithPostgres = (samples: Sample[]) => median(samples.map((sample) => sample.requests / Math.max(sample.serverCpu + sample.postgresCpu, 1e-9)));
/** Cores busy on average during a run. */
const cores = (samples: Sample[], field: 'serverCpu' | 'postgresCpu' | 'loadCpu') => median(samples.map((sample) => sample[field] / sample.seconds));

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

interface Check {
  target: string;
  measured: string;
  met: boolean;
  why?: string;
  /** What meeting it would take. */
  take?: string;
}

/** What closing a gap to the baseline would take, by what the gap is made of. */
function compareTake(roundTrips: number): string {
  if (roundTrips < 0.5) {
    return "less work in Latchkey's HTTP layer around the provider (request id, access log, metrics, security headers): profiles show no single part above a few percent, so only a leaner pipeline as a whole would gain more.";
  }
  return (
    'fewer round trips, or cheaper ones: ' +
    (roundTrips >= 3 ? 'a unit-of-work write path that puts what one request writes (a consume and two inserts for a refresh) in one statement; ' : '') +
    'PostgreSQL and the load generator on cores of their own, so that what each round trip costs in system calls is not taken from the server.'
  );
}

function comparedChecks(results: Results): Check[] {
  return results.compared.map((workload) => {
    const ratio = median(rates(workload.latchkey)) / median(rates(workload.baseline));
    const met = ratio >= workload.target;
    const cpuPerRequest = (samples: Sample[]) => median(samples.map((sample) => (sample.serverCpu / sample.requests) * 1000));
    return {
      target: `${workload.title}: at least ${percent(workload.target)} of the baseline`,
      measured: percent(ratio),
      met,
      ...(met
        ? {}
        : {
            why:
              `Latchkey used ${fixed(cpuPerRequest(workload.latchkey), 2)} ms of CPU per request against the baseline's ${fixed(cpuPerRequest(workload.baseline), 2)} ms, ` +
              `and made ${fixed(workload.roundTrips, 1)} round trips to PostgreSQL per request, which the baseline (memory) does not; ` +
              `PostgreSQL kept ${fixed(cores(workload.latchkey, 'postgresCpu'), 2)} of the ${results.machine.cores} cores busy and the load generator ${fixed(cores(workload.latchkey, 'loadCpu'), 2)}.`,
            take: compareTake(workload.roundTrips),
          }),
    };
  });
}

const tailRatio = (samples: Sample[]) => median(samples.map((sample) => sample.p99 / Math.max(sample.p50, 0.001)));

/** Where a login's time goes besides argon2id, from the CPU each process used during the runs. */
function loginsWhy(results: Results): string {
  const { samples } = results.logins;
  const cpuPerLogin = median(samples.map((sample) => sample.serverCpu / Math.max(sample.requests, 1))) * 1000;
  const verify = median(results.argon2.map((run) => run.cpuMsPerVerification));
  return (
    `a login took ${fixed(cpuPerLogin, 1)} ms of server CPU, of which the argon2id verification is about ${fixed(verify, 1)} ms (its CPU in the bound's runs); ` +
    `the rest (the interaction and its cookies, ${fixed(results.logins.roundTrips, 0)} round trips, the audit event), PostgreSQL (${fixed(cores(samples, 'postgresCpu'), 2)} cores) and the load generator share the cores the bound had to itself, ` +
    `and the server kept ${fixed(cores(samples, 'serverCpu'), 2)} of the ${results.machine.cores} busy.`
  );
}

/** Why the tail is long where it is: the baseline's own tail, and the millisecond resolution at a small p50. */
function tailWhy(results: Results, worst: { title: string; ratio: number; baseline: number }): string {
  const workload = results.compared.find((candidate) => candidate.title === worst.title)!;
  const p50 = median(workload.latchkey.map((sample) => sample.p50));
  const slower = results.compared.filter((candidate) => median(candidate.latchkey.map((sample) => sample.p50)) >= 5);
  const slowerWorst = Math.max(0, ...slower.map((candidate) => tailRatio(candidate.latchkey)));
  return (
    `on the same workload the baseline's p99 is ${fixed(worst.baseline, 1)}x its p50. autocannon counts whole milliseconds, and at a p50 of ${ms(p50)} ms ` +
    `any wait for a core (the load generator and PostgreSQL share the ${results.machine.cores} cores) is several times the p50` +
    (slower.length > 0 ? `; the workloads with a p50 of 5 ms or more are at most ${fixed(slowerWorst, 1)}x.` : '.')
  );
}

function latencyChecks(results: Results): Check[] {
  const worst = results.compared
    .map((workload) => ({ title: workload.title, ratio: tailRatio(workload.latchkey), baseline: tailRatio(workload.baseline) }))
    .sort((a, b) => b.ratio - a.ratio)[0]!;
  const met = worst.ratio < TARGETS.p99OverP50;
  return [
    {
      target: `p99 below ${TARGETS.p99OverP50}x p50 with ${results.settings.connections} clients (every compared workload)`,
      measured: `worst ${fixed(worst.ratio, 1)}x (${worst.title})`,
      met,
      ...(met
        ? {}
        : {
            why: tailWhy(results, worst),
            take: 'a load generator that measures below a millisecond, or the load generator and PostgreSQL on cores of their own.',
          }),
    },
  ];
}

const highest = (samples: Sample[]) => Math.max(...samples.map((sample) => sample.peakRssMB));
const tokenPeak = (results: Results) => Math.max(highest(results.compared.flatMap((workload) => workload.latchkey)), ...(results.memory.stability ?? []));
const signInPeak = (results: Results) => highest([...results.logins.samples, ...results.flows.samples]);
const peakRss = (results: Results) => Math.max(tokenPeak(results), signInPeak(results));

function stabilityGrowth(stability: number[]): { first: number; last: number; growth: number } {
  const window = Math.min(10, Math.floor(stability.length / 3));
  const mean = (values: number[]) => sum(values) / Math.max(values.length, 1);
  // The first seconds are left out: the heap grows to its working size as the run starts.
  const first = mean(stability.slice(window, 2 * window));
  const last = mean(stability.slice(-window));
  return { first, last, growth: first > 0 ? (last - first) / first : 0 };
}

export function renderReport(results: Results): string {
  const { machine, settings } = results;
  const lines: string[] = [];
  const push = (...text: string[]) => lines.push(...text, '');
  const bound = median(results.argon2.map((run) => run.perSecond));
  const verifyMs = median(results.argon2.map((run) => run.cpuMsPerVerification));
  const poolSize = results.argon2[0]?.poolSize ?? 4;
  const defaultArgon2 = settings.argon2.memoryKib === 19456 && settings.argon2.time === 2 && settings.argon2.parallelism === 1;
  const loginRate = median(rates(results.logins.samples));
  const cc = results.compared.find((workload) => workload.key === 'cc_jwt')!;
  const ccOpaque = results.compared.find((workload) => workload.key === 'cc_opaque')!;
  const refresh = results.compared.find((workload) => workload.key === 'refresh')!;

  push(
    `# Benchmarks${results.quick ? ' (quick run)' : ''}`,
    `_Written by \`npm run bench\` on ${results.date.slice(0, 10)} (${results.date}); rerun it to check or update every figure here._`,
  );
  push(
    '## Machine and method',
    table(
      ['', ''],
      [
        ['CPU', `${machine.cpu}, ${machine.cores} cores`],
        ['Memory', `${machine.memoryGiB} GiB`],
        ['OS', machine.os],
        ['Node.js', machine.node],
        ['PostgreSQL', `${machine.postgres}, on this machine (127.0.0.1)`],
        ['Load', `autocannon in its own process on 127.0.0.1, ${settings.connections} connections kept alive, no pipelining, the same for both sides`],
        ['Runs', `${settings.runs} per workload and side, ${settings.seconds} s each (refresh: ${fixed(settings.refreshTokens)} requests each), after an unmeasured warm-up; Latchkey and the baseline alternate which goes first`],
        ['Figures', `medians of the runs; ± is the furthest run from the median, as a share of it`],
        ['argon2id', `m=${fixed(settings.argon2.memoryKib)} KiB, t=${settings.argon2.time}, p=${settings.argon2.parallelism}${defaultArgon2 ? " (Latchkey's defaults)" : ''}`],
      ],
    ),
  );
  push(
    '**Latchkey**: `latchkey serve` as `npm start` runs it (compiled by `npm run build`), in production mode (`DATABASE_URL` set, JSON logs at info, one line a request, to a file), behind a TLS-terminating proxy as far as it can tell (an https issuer, `LATCHKEY_TRUST_PROXY`, and `X-Forwarded-Proto` on every request), on a fresh PostgreSQL database, one process.',
    "**Baseline**: bare oidc-provider built by `bench/baseline.ts` from the same provider configuration module (`src/oidc/configuration.ts`) and the same keys, with oidc-provider's in-memory adapter, the clients as its static clients, and the account and APIs in maps. Nothing of Latchkey's HTTP layer is in front of it: no request ids, access log, metrics, security headers or throttling, and no database. It is the ceiling: what the protocol work alone costs in Node.js. It runs its TypeScript through tsx, whose loader takes about 40 MB of its memory and nothing of its speed once loaded.",
    `**The machine's ${machine.cores} cores are shared** by the load generator, the server and PostgreSQL. Both sides get the same load (fixed connections), so the ratio compares the servers under the same contention; the CPU columns say where the time went. Round trips to PostgreSQL are counted on the wire (every Sync and simple Query a second Latchkey node sends, through a counting proxy, with its background polling taken out) over ${results.quick ? 'a few dozen' : 'a few hundred'} requests sent one after another: what one request costs alone, before concurrent requests share statements.`,
  );

  push(
    '## What Latchkey does on these paths',
    '- **JWKS and discovery** come from memory: each is kept from the provider\'s first answer and served until the provider is rebuilt (a key change), with the request id, security headers, access log line and metrics every request gets.',
    '- **Client authentication** needs no database: clients are cached in each node (changes reach every node through the change feed), and the right secret is accepted without consulting the throttle, which counts only wrong ones.',
    '- **Token rows** are written and read in statements that concurrent requests share: an insert, a read or a consume waits at most for the batch already out, so under load many requests share one round trip and one commit. A token value is read together with its grant in one statement.',
    '- **What it costs**: every round trip to PostgreSQL is a system call and a wake-up on both ends, on cores the server shares with PostgreSQL and the load generator here. That, more than the provider\'s work, is what separates Latchkey from the in-memory baseline on the workloads that touch the database.',
  );

  push(
    '## Latchkey against the bare oidc-provider baseline',
    table(
      ['Workload', 'Latchkey req/s', 'Baseline req/s', 'Ratio (target)', 'Latchkey p50 / p99 ms', 'Baseline p50 / p99 ms', 'Errors L / B', 'DB round trips per request'],
      results.compared.map((workload) => {
        const ratio = median(rates(workload.latchkey)) / median(rates(workload.baseline));
        const latency = (samples: Sample[]) => `${ms(median(samples.map((s) => s.p50)))} / ${ms(median(samples.map((s) => s.p99)))}`;
        return [
          workload.title,
          withSpread(rates(workload.latchkey)),
          withSpread(rates(workload.baseline)),
          `${percent(ratio)} (${percent(workload.target)})`,
          latency(workload.latchkey),
          latency(workload.baseline),
          `${fixed(sum(workload.latchkey.map((s) => s.errors)))} / ${fixed(sum(workload.baseline.map((s) => s.errors)))}`,
          fixed(workload.roundTrips, 1),
        ];
      }),
    ),
  );
  push(
    'Where the CPU went (cores busy on average during the runs):',
    table(
      ['Workload', 'Latchkey server', 'PostgreSQL', 'Load generator (Latchkey runs)', 'Baseline server', 'Load generator (baseline runs)'],
      results.compared.map((workload) => [
        workload.title,
        fixed(cores(workload.latchkey, 'serverCpu'), 2),
        fixed(cores(workload.latchkey, 'postgresCpu'), 2),
        fixed(cores(workload.latchkey, 'loadCpu'), 2),
        fixed(cores(workload.baseline, 'serverCpu'), 2),
        fixed(cores(workload.baseline, 'loadCpu'), 2),
      ]),
    ),
  );

  push(
    '## Latchkey alone',
    table(
      ['Workload', 'Per second', 'p50 / p99 ms', 'Errors', 'DB round trips'],
      [
        [
          `Sign-ins: authorize, login, consent, token (${settings.flowConcurrency} at once, scripted over HTTP)`,
          withSpread(rates(results.flows.samples)),
          `${ms(median(results.flows.samples.map((s) => s.p50)))} / ${ms(median(results.flows.samples.map((s) => s.p99)))}`,
          fixed(sum(results.flows.samples.map((s) => s.errors))),
          `${fixed(results.flows.roundTrips, 1)} per sign-in`,
        ],
        [
          `Logins: the login form post alone (${fixed(results.logins.perRun)} interactions made beforehand per run)`,
          withSpread(rates(results.logins.samples)),
          `${ms(median(results.logins.samples.map((s) => s.p50)))} / ${ms(median(results.logins.samples.map((s) => s.p99)))}`,
          fixed(sum(results.logins.samples.map((s) => s.errors))),
          `${fixed(results.logins.roundTrips, 1)} per login`,
        ],
        [`argon2id bound: verifications a second at the configured parameters, ${poolSize} at once (the thread pool)`, withSpread(results.argon2.map((run) => run.perSecond)), '', '', ''],
      ],
    ),
  );
  const flowCpuMs = median(results.flows.samples.map((sample) => sample.serverCpu / Math.max(sample.requests, 1))) * 1000;
  push(
    `A whole sign-in took about ${fixed(flowCpuMs)} ms of server CPU, of which the password check (one argon2id verification, ${fixed(verifyMs, 1)} ms of CPU in the bound's runs) was ${percent(verifyMs / flowCpuMs)}; logins ran at ${percent(loginRate / bound)} of the argon2id bound.`,
  );

  const delays = results.propagation.delaysMs;
  push(
    '## A change reaching another node',
    `A client deleted through one node stopped working on a second node (which had it cached) after ${ms(median(delays))} ms (median of ${delays.length}; slowest ${ms(Math.max(...delays))} ms). Nodes poll the change counters every ${fixed(results.propagation.pollIntervalMs)} ms (\`LATCHKEY_CACHE_POLL_INTERVAL\`), so the delay is at most about one interval plus a request.`,
  );

  const peak = peakRss(results);
  const memoryRows = [
    ['Idle, after start-up (Latchkey / baseline)', `${fixed(results.memory.idle.latchkeyMB)} MB / ${fixed(results.memory.idle.baselineMB)} MB`],
    ['Highest under load: token workloads (the compared ones and the 60 s run) / logins and sign-ins', `${fixed(tokenPeak(results))} MB / ${fixed(signInPeak(results))} MB`],
  ];
  if (results.memory.stability) {
    const { first, last, growth } = stabilityGrowth(results.memory.stability);
    memoryRows.push([`Over ${results.memory.stability.length} s of client_credentials (JWT), after the warm-up seconds / at the end`, `${fixed(first)} MB / ${fixed(last)} MB (${growth >= 0 ? '+' : ''}${percent(growth)})`]);
  }
  push('## Memory (resident set, Latchkey on PostgreSQL)', table(['', 'RSS'], memoryRows));

  push(
    '## Per core, beside Keycloak',
    `Keycloak's sizing guide gives, per vCPU of its pods, about ${KEYCLOAK.clientCredentials} client-credentials grants/s, ${KEYCLOAK.refresh} refreshes/s and ${KEYCLOAK.logins} password logins/s, and starts at ${fixed(KEYCLOAK.podMB)} MB of memory a pod. Latchkey's figures are requests per CPU second of the Latchkey process, and the same with PostgreSQL's CPU added.`,
    table(
      ['', 'Keycloak per vCPU', 'Latchkey per CPU second', 'Latchkey per CPU second, PostgreSQL included'],
      [
        ['client_credentials (JWT)', fixed(KEYCLOAK.clientCredentials), fixed(perCpuSecond(cc.latchkey)), fixed(perCpuSecondWithPostgres(cc.latchkey))],
        ['client_credentials (opaque)', fixed(KEYCLOAK.clientCredentials), fixed(perCpuSecond(ccOpaque.latchkey)), fixed(perCpuSecondWithPostgres(ccOpaque.latchkey))],
        ['refresh', fixed(KEYCLOAK.refresh), fixed(perCpuSecond(refresh.latchkey)), fixed(perCpuSecondWithPostgres(refresh.latchkey))],
        ['password logins: a whole sign-in (authorize, login, consent, token)', fixed(KEYCLOAK.logins), fixed(perCpuSecond(results.flows.samples)), fixed(perCpuSecondWithPostgres(results.flows.samples))],
        ['password logins: the login form post alone', '', fixed(perCpuSecond(results.logins.samples)), fixed(perCpuSecondWithPostgres(results.logins.samples))],
      ],
    ),
  );
  push(
    `What differs: Keycloak measured with a TLS handshake per request and argon2 at m=7 MiB, t=5; here requests travel over kept-alive plain HTTP on loopback (TLS ends at a proxy in front of Latchkey in a deployment) and argon2id runs at m=${fixed(settings.argon2.memoryKib / 1024)} MiB, t=${settings.argon2.time}${defaultArgon2 ? " (OWASP's first choice, about the same work per hash as Keycloak's)" : ''}. Keycloak ran its load generator and database on other machines; here all three share the cores, and the CPU time is read per process from /proc.`,
  );

  if (results.workers) {
    const one = median(rates(results.workers.one));
    const two = median(rates(results.workers.two));
    push(
      '## Several cores: `serve --workers 1` and `--workers 2`',
      table(
        ['', 'req/s', 'Latchkey cores busy', 'PostgreSQL cores busy', 'Load generator cores busy', 'RSS, all processes'],
        (
          [
            ['--workers 1', results.workers.one],
            ['--workers 2', results.workers.two],
          ] as const
        ).map(([name, samples]) => [
          `${name}, client_credentials (JWT)`,
          withSpread(rates(samples)),
          fixed(cores(samples, 'serverCpu'), 2),
          fixed(cores(samples, 'postgresCpu'), 2),
          fixed(cores(samples, 'loadCpu'), 2),
          `${fixed(Math.max(...samples.map((s) => s.peakRssMB)))} MB`,
        ]),
      ),
      `Two workers served ${percent(Math.abs(two / one - 1))} ${two >= one ? 'more' : 'less'} than one, keeping ${fixed(cores(results.workers.two, 'serverCpu'), 2)} cores busy instead of ${fixed(cores(results.workers.one, 'serverCpu'), 2)} ` +
        `(${fixed(perCpuSecond(results.workers.one))} and ${fixed(perCpuSecond(results.workers.two))} requests per server CPU second). ` +
        `On ${machine.cores} cores that the load generator and PostgreSQL share with the server, this measures contention for those cores; how workers scale on a machine with cores to spare is not measured here.`,
    );
  } else {
    push('## Several cores', 'Measured by the full run only.');
  }

  const checks: Check[] = [
    ...comparedChecks(results),
    {
      target: `Logins at least ${percent(TARGETS.loginsOfBound)} of the argon2id bound`,
      measured: `${fixed(loginRate, 1)}/s of ${fixed(bound, 1)}/s: ${percent(loginRate / bound)}`,
      met: loginRate / bound >= TARGETS.loginsOfBound,
      why: loginsWhy(results),
      take: 'fewer round trips per login (the interaction is read three times; a per-request memo for it would save two) and PostgreSQL and the load generator on cores of their own.',
    },
    {
      target: `At most ${TARGETS.roundTripsCc} round trips for client_credentials`,
      measured: `${fixed(cc.roundTrips, 1)} (JWT), ${fixed(ccOpaque.roundTrips, 1)} (opaque)`,
      met: Math.max(cc.roundTrips, ccOpaque.roundTrips) <= TARGETS.roundTripsCc + 0.05,
    },
    ...latencyChecks(results),
    {
      target: `A change reaches another node in under ${fixed(TARGETS.propagationMs / 1000)} s`,
      measured: `slowest ${ms(Math.max(...delays))} ms`,
      met: Math.max(...delays) < TARGETS.propagationMs,
    },
    {
      target: `Idle under ${TARGETS.idleMB} MB RSS`,
      measured: `${fixed(results.memory.idle.latchkeyMB)} MB`,
      met: results.memory.idle.latchkeyMB < TARGETS.idleMB,
      take: 'loading less at start: every module left is one a PostgreSQL node uses.',
      why: `Node.js with Latchkey's modules loaded (Koa, Knex and pg, oidc-provider, jose, argon2, pino, prom-client, the views) and its pools and caches; nothing is loaded that a PostgreSQL node does not use (the embedded database and the password blocklist load on first use).`,
    },
    {
      target: `Under ${TARGETS.loadMB} MB RSS at full load`,
      measured: `${fixed(peak)} MB`,
      met: peak < TARGETS.loadMB,
      why:
        `token requests peaked at ${fixed(tokenPeak(results))} MB and logins and sign-ins at ${fixed(signInPeak(results))} MB` +
        (signInPeak(results) > tokenPeak(results) ? `, where each argon2id verification holds its ${fixed(settings.argon2.memoryKib / 1024)} MiB while it runs, up to ${poolSize} at once (the thread pool)` : '') +
        `. V8 grows its heap to the load and the memory it sees (${machine.memoryGiB} GiB here) before it collects.`,
      take: 'an old-space cap (`NODE_OPTIONS=--max-old-space-size=...`) or a smaller young generation (`--max-semi-space-size`), which hold a node lower at some cost in throughput.',
    },
  ];
  if (results.memory.stability) {
    const { growth } = stabilityGrowth(results.memory.stability);
    checks.push({ target: `RSS stable over a ${results.memory.stability.length} s run (under ${percent(TARGETS.stabilityGrowth)} growth)`, measured: `${growth >= 0 ? '+' : ''}${percent(growth)}`, met: growth < TARGETS.stabilityGrowth });
  }
  push('## Targets', table(['Target', 'Measured', ''], checks.map((check) => [check.target, check.measured, mark(check.met)])));
  const missed = checks.filter((check) => !check.met);
  if (missed.length > 0) {
    push(
      '### Missed: why, and what it would take',
      ...missed.map((check) => `- ${check.target}: ${check.why ?? 'see the tables above.'}${check.take ? ` What it would take: ${check.take}` : ''}`),
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
