/**
 * `npm run bench`: what switchboard costs over talking to a vLLM server directly, in one run.
 * The backend is `switchboard sim` answering at once (no token delay), so the figures are
 * switchboard's own. The load comes from this process; switchboard (the binary, `--no-ui`) and
 * each backend run in processes of their own, measured from outside through /proc (Linux).
 * The main-thread test runs switchboard in test/bench/host.ts instead, and compares it with itself.
 *
 * Prints a markdown table on stdout (progress on stderr) and writes test/bench/results.json.
 * Times never fail the run; broken measurements (errors, non-2xx answers) do.
 *
 * Env: BENCH_SECONDS (default 10): length of each load measurement.
 *      BENCH_CPU_PROF=<dir>: run every switchboard process under `node --cpu-prof`, profiles
 *      into <dir> (one for the main thread, one for the data-plane worker).
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {request} from 'undici';
import {runLoad, type LoadResult} from './load.js';
import {cpuTimeMs, machineBusyFraction, residentMb} from './proc.js';
import {type HostBusy, Processes, type Service} from './processes.js';
import {buildRows, markdownTable, type Measurements} from './report.js';
import {chatBody, chatPath, jsonHeaders, modelName} from './requests.js';
import {summarize, type Summary} from './stats.js';
import {timeToFirstChunk, withOpenStreams} from './streams.js';

const seconds = positiveNumber('BENCH_SECONDS', 10);
/** Tail latency settles only after a few seconds of load (JIT tiers, heap sizing). */
const warmupSeconds = Math.min(5, seconds);
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
		measurements = await Promise.race([measureAll(processes), stop.promise]);
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

async function measureAll(processes: Processes): Promise<Measurements> {
	progress(`starting a direct backend and switchboard in front of another (${seconds} s per measurement)`);
	const direct = await processes.sim('direct-sim', instantBackend);
	const switchboard = await processes.switchboard('switchboard', instantBackend);
	await firstAnswer(direct, 16);
	// The first request through switchboard starts its backend.
	await firstAnswer(switchboard, 16);

	const latencyDirect = await measureLoad(direct, 1);
	const latencySwitchboard = await measureLoad(switchboard, 1);
	const throughputDirect = await measureLoad(direct, 64);
	const throughputSwitchboard = await measureLoad(switchboard, 64);
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

/** A warm-up run, then the measured one, with the CPU time `service` spent on it. */
async function measureLoad(service: Service, connections: number): Promise<{result: LoadResult; cpuMsPerRequest: number}> {
	await runLoad(service.url, connections, warmupSeconds);
	const cpuBefore = cpuTimeMs(service.pid);
	const result = await runLoad(service.url, connections, seconds);
	const cpuMsPerRequest = (cpuTimeMs(service.pid) - cpuBefore) / result.requests;
	progress(`${service.name}, ${connections} connection${connections === 1 ? '' : 's'}: ${Math.round(result.requestsPerSecond)} req/s, `
		+ `mean ${result.latency.mean.toFixed(3)} ms, p99 ${result.latency.p99.toFixed(3)} ms, ${cpuMsPerRequest.toFixed(3)} CPU ms/request`);
	return {result, cpuMsPerRequest};
}

async function measureOpenStreams(processes: Processes): Promise<Measurements['rss']> {
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

/** One complete answer; through switchboard this waits for the backend to start. */
async function firstAnswer(service: Service, maxTokens: number): Promise<void> {
	const {statusCode, body} = await request(service.url + chatPath, {
		method: 'POST',
		headers: jsonHeaders,
		body: chatBody({stream: false, maxTokens}),
		headersTimeout: 60_000,
		bodyTimeout: 60_000,
	});
	const text = await body.text();
	if (statusCode !== 200) {
		throw new Error(`${service.name} answered ${statusCode}: ${text}`);
	}
}

/** Rejects on SIGINT/SIGTERM or when the run exceeds its time budget. */
function stopConditions(): {promise: Promise<never>; dispose(): void} {
	const budgetSeconds = 6 * (seconds + warmupSeconds) + 180;
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

function progress(message: string): void {
	process.stderr.write(`bench: ${message}\n`);
}

await main();
