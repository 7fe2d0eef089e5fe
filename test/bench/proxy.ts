/**
 * `npm run bench`: what switchboard costs over talking to a vLLM server directly, in one run.
 * The backend is `switchboard sim` answering at once (no token delay), so the figures are
 * switchboard's own. The load comes from this process; switchboard (the binary, `--no-ui`) and
 * each backend run in processes of their own, measured from outside through /proc (Linux).
 * The main-thread test runs switchboard in test/bench/host.ts instead, and compares it with itself.
 *
 * Parts: `proxy` (one backend: latency, throughput, CPU, streams, memory, a busy main thread),
 * `replicas` (four backends as one static model behind least-load, against the client spreading
 * the load itself; test/bench/replicas.ts), `scrape` (the CPU of scraping 50 idle backends'
 * /metrics every 2 s; test/bench/scrape.ts), `console-frame` (CPU per frame of the console with
 * 20 backends and a 15-line log pane, mean and p95, next to the design's budget of 5 ms: the real
 * App rendered by Ink in this process into a terminal that discards it, a frame at a time with new
 * figures and log lines, in the log view at 160×40, the detail view, and at 80×24; then its
 * redraws per second and CPU at its own pace; test/bench/console-frame.ts) and `console-latency`
 * (the binary with its console on a real terminal, a tmux session of its own, against the same
 * with --no-ui and the backend directly: latency p50/p90/p99 at one connection and throughput at
 * 64 while the console redraws; the bar is < 10% over --no-ui; test/bench/console-latency.ts,
 * needs tmux). A default run has them all.
 *
 * Prints a markdown table on stdout (progress on stderr) and writes test/bench/results.json.
 * Times never fail the run; broken measurements (errors, non-2xx answers) do.
 *
 * Env: BENCH_SECONDS (default 10): length of each load measurement; the scrape part measures
 *      twice as long, since it counts a few ticks of CPU time; console-frame's steady run lasts
 *      as long (its frames are counted, not timed).
 *      BENCH_ONLY=<part,…>: run only these parts, e.g. BENCH_ONLY=replicas,scrape.
 *      BENCH_SCRAPE_METRICS=<file>: the /metrics text the scraped backends answer (e.g. saved
 *      from a real vLLM) instead of the simulator's.
 *      BENCH_CPU_PROF=<dir>: run every switchboard process under `node --cpu-prof`, profiles
 *      into <dir> (one for the main thread, one for the data-plane worker); console-frame renders
 *      in the bench's own process: `node --cpu-prof --import tsx test/bench/proxy.ts` profiles it.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {runLoad} from './load.js';
import {firstAnswer, measureLoad, progress, serviceTarget, type Timing} from './measure.js';
import {machineBusyFraction, residentMb} from './proc.js';
import {type HostBusy, Processes} from './processes.js';
import {measureReplicas} from './replicas.js';
import {buildRows, markdownTable, type Measurements, type ProxyMeasurements} from './report.js';
import {modelName} from './requests.js';
import {measureScrapeCost} from './scrape.js';
import {measureConsoleFrames} from './console-frame.js';
import {measureConsoleLatency} from './console-latency.js';
import {summarize, type Summary} from './stats.js';
import {timeToFirstChunk, withOpenStreams} from './streams.js';

const seconds = positiveNumber('BENCH_SECONDS', 10);
/** Tail latency settles only after a few seconds of load (JIT tiers, heap sizing). */
const warmupSeconds = Math.min(5, seconds);
const timing: Timing = {seconds, warmupSeconds};
/** CPU time comes in 10 ms ticks: a longer span than a load's, for a figure near 1% of a core. */
const scrapeSeconds = 2 * seconds;
const parts = ['proxy', 'replicas', 'scrape', 'console-frame', 'console-latency'] as const;
type Part = typeof parts[number];
const selected = selectedParts();
/** Sequential streaming requests per side: a few hundred at the default length. */
const firstChunkRequests = Math.round(50 * seconds);
const firstChunkWarmup = 50;
/** Hosts per side in the main-thread test, each measured for a share of `seconds`. */
const busyMainRounds = 2;
const openStreamCount = 1000;
const resultsPath = fileURLToPath(new URL('results.json', import.meta.url));

/** Answers as fast as it can: what is measured is the path, not the model. */
const instantBackend = ['--model', modelName, '--token-rate', '0', '--ttft', '0', '--startup-delay', '0'];
/** One token a second for ten minutes: streams that stay open for the whole memory reading. */
const slowBackend = ['--model', modelName, '--token-rate', '1', '--max-tokens', '600', '--max-num-seqs', '2000', '--startup-delay', '0'];

const profileDir = process.env['BENCH_CPU_PROF'];
const profileFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];

async function main(): Promise<void> {
	const environment = await describeEnvironment();
	if (environment.busyBefore > 0.1) {
		progress(`the machine is ${Math.round(environment.busyBefore * 100)}% busy before the bench: expect skewed figures`);
	}

	const workDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
	const processes = new Processes(workDir, profileFlags);
	const stop = stopConditions();
	let measurements: Measurements | undefined;
	try {
		measurements = await Promise.race([measureAll(processes, workDir), stop.promise]);
	} catch (error) {
		process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\nlogs kept in ${workDir}\n`);
	} finally {
		stop.dispose();
		await processes.stopAll();
	}

	if (!measurements) {
		// An abandoned measurement may still hold sockets and timers.
		process.exit(1);
	}

	const rows = buildRows(measurements);
	process.stdout.write(`${markdownTable(rows)}\n`);
	writeFileSync(resultsPath, `${JSON.stringify({...environment, rows, measurements}, null, '\t')}\n`);
	progress(`results written to ${path.relative(process.cwd(), resultsPath)}`);
	rmSync(workDir, {recursive: true, force: true});
}

async function measureAll(processes: Processes, workDir: string): Promise<Measurements> {
	const measurements: Measurements = {};
	if (selected.has('proxy')) {
		measurements.proxy = await measureProxy(processes);
	}

	if (selected.has('replicas')) {
		measurements.replicas = await measureReplicas(processes, workDir, instantBackend, timing);
	}

	if (selected.has('scrape')) {
		measurements.scrape = await measureScrapeCost(processes, workDir, instantBackend, scrapeSeconds, process.env['BENCH_SCRAPE_METRICS'] || undefined);
	}

	if (selected.has('console-frame')) {
		measurements.consoleFrame = await measureConsoleFrames(seconds);
	}

	if (selected.has('console-latency')) {
		measurements.consoleLatency = await measureConsoleLatency(processes, workDir, instantBackend, timing);
	}

	return measurements;
}

async function measureProxy(processes: Processes): Promise<ProxyMeasurements> {
	progress(`starting a direct backend and switchboard in front of another (${seconds} s per measurement)`);
	const direct = await processes.sim('direct-sim', instantBackend);
	const switchboard = await processes.switchboard('switchboard', instantBackend);
	await firstAnswer(direct, 16);
	// The first request through switchboard starts its backend.
	await firstAnswer(switchboard, 16);

	const latencyDirect = await measureLoad(serviceTarget(direct), 1, timing);
	const latencySwitchboard = await measureLoad(serviceTarget(switchboard), 1, timing);
	const throughputDirect = await measureLoad(serviceTarget(direct), 64, timing);
	const throughputSwitchboard = await measureLoad(serviceTarget(switchboard), 64, timing);
	progress(`first chunk of ${firstChunkRequests} sequential streaming requests`);
	const firstChunk = {
		direct: await timeToFirstChunk(direct.url, firstChunkRequests, firstChunkWarmup),
		switchboard: await timeToFirstChunk(switchboard.url, firstChunkRequests, firstChunkWarmup),
	};
	await switchboard.stop();
	await direct.stop();

	const {idle: hostIdle, busyMain: hostBusyMain, busyElsewhere: hostBusyElsewhere} = await measureBusyMain(processes);
	const rss = await measureOpenStreams(processes);
	return {
		latency: {direct: latencyDirect.result.latency, switchboard: latencySwitchboard.result.latency, hostIdle, hostBusyMain, hostBusyElsewhere},
		throughput: {direct: throughputDirect.result.requestsPerSecond, switchboard: throughputSwitchboard.result.requestsPerSecond},
		cpuMsPerRequest: {backend: throughputDirect.cpuMsPerRequest, switchboard: throughputSwitchboard.cpuMsPerRequest},
		firstChunk,
		rss,
	};
}

/**
 * Latency at one connection through test/bench/host.ts with its main thread idle, and busy.
 * The difference is small next to how much one process differs from the next, so each side
 * runs in several fresh hosts, alternating (idle busy, busy idle, …) so that drift during the run
 * falls on both alike, and their samples are pooled.
 */
async function measureBusyMain(processes: Processes): Promise<{idle: Summary; busyMain: Summary; busyElsewhere: Summary}> {
	const samples: Record<HostBusy, number[]> = {none: [], main: [], elsewhere: []};
	const order: HostBusy[] = ['none', 'main', 'elsewhere'];
	for (let round = 0; round < busyMainRounds; round++) {
		for (const busy of round % 2 === 0 ? order : order.toReversed()) {
			const host = await processes.host(`host-busy-${busy}-${round + 1}`, instantBackend, busy);
			await firstAnswer(host, 16);
			await runLoad(host.url, 1, warmupSeconds);
			const result = await runLoad(host.url, 1, seconds / busyMainRounds);
			progress(`${host.name}: p99 ${result.latency.p99.toFixed(3)} ms`);
			samples[busy].push(...result.samples);
			await host.stop();
		}
	}

	return {idle: summarize(samples.none), busyMain: summarize(samples.main), busyElsewhere: summarize(samples.elsewhere)};
}

async function measureOpenStreams(processes: Processes): Promise<ProxyMeasurements['rss']> {
	const host = await processes.switchboard('switchboard-streams', slowBackend);
	await firstAnswer(host, 1);
	const idleMb = residentMb(host.pid);
	progress(`opening ${openStreamCount} streams through switchboard (idle RSS ${idleMb.toFixed(1)} MB)`);
	// Two seconds: two tokens through every stream, so the reading is of relaying, not only of opening.
	const openMb = await withOpenStreams(host.url, openStreamCount, 600, 2000, () => residentMb(host.pid));
	progress(`RSS with ${openStreamCount} open streams: ${openMb.toFixed(1)} MB`);
	await host.stop();
	return {streams: openStreamCount, idleMb, openMb};
}

/** Rejects on SIGINT/SIGTERM or when the run exceeds its time budget. */
function stopConditions(): {promise: Promise<never>; dispose(): void} {
	// Generous: a run over budget is stuck, not slow.
	const budgetSeconds = (selected.has('proxy') ? 6 * (seconds + warmupSeconds) + 180 : 0)
		+ (selected.has('replicas') ? 3 * (seconds + warmupSeconds) + 60 : 0)
		+ (selected.has('scrape') ? scrapeSeconds + 60 : 0)
		+ (selected.has('console-frame') ? seconds + 120 : 0)
		+ (selected.has('console-latency') ? 6 * (seconds + warmupSeconds) + 120 : 0);
	let reject: (error: Error) => void = () => undefined;
	const promise = new Promise<never>((_resolve, reject_) => {
		reject = reject_;
	});
	const onSignal = (signal: NodeJS.Signals) => {
		reject(new Error(`interrupted by ${signal}`));
	};

	const timer = setTimeout(() => {
		reject(new Error(`the bench took longer than its budget of ${budgetSeconds} s`));
	}, budgetSeconds * 1000);
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);
	return {
		promise,
		dispose() {
			clearTimeout(timer);
			process.off('SIGINT', onSignal);
			process.off('SIGTERM', onSignal);
		},
	};
}

interface Environment {
	date: string;
	node: string;
	cpus: number;
	cpuModel: string;
	/** Fraction of all CPUs busy in the second before the bench: other work skews every figure. */
	busyBefore: number;
	secondsPerMeasurement: number;
	parts: Part[];
}

async function describeEnvironment(): Promise<Environment> {
	const cpus = os.cpus();
	return {
		date: new Date().toISOString(),
		node: process.version,
		cpus: cpus.length,
		cpuModel: cpus[0]?.model ?? 'unknown',
		busyBefore: await machineBusyFraction(1000),
		secondsPerMeasurement: seconds,
		parts: [...selected],
	};
}

function positiveNumber(name: string, fallback: number): number {
	const text = process.env[name];
	const value = text === undefined || text === '' ? fallback : Number(text);
	if (!Number.isFinite(value) || value <= 0) {
		throw new Error(`${name} must be a positive number of seconds (got ${text})`);
	}

	return value;
}

/** BENCH_ONLY, or every part. */
function selectedParts(): ReadonlySet<Part> {
	const text = process.env['BENCH_ONLY'];
	if (text === undefined || text.trim() === '') {
		return new Set(parts);
	}

	const names = text.split(',').map(name => name.trim()).filter(name => name !== '');
	const known = names.filter(name => isPart(name));
	if (known.length !== names.length || known.length === 0) {
		throw new Error(`BENCH_ONLY takes a comma-separated list of ${parts.join(', ')} (got ${text})`);
	}

	return new Set(known);
}

function isPart(name: string): name is Part {
	return (parts as readonly string[]).includes(name);
}

await main();
