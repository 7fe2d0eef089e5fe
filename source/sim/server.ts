import {createServer, type Server, type ServerResponse} from 'node:http';
import {createServer as createNetServer} from 'node:net';
import {constants as osConstants} from 'node:os';
import {createRequestListener, ROUTES} from './app.js';
import {sleep} from './clock.js';
import type {SimContext} from './context.js';
import {Engine} from './engine.js';
import {SimLogger} from './log.js';
import {acceptedModelNames, primaryModelName, resolveSimOptions, type SimOptions} from './options.js';
import {seededRandom} from './prng.js';
import {pyStringRepr} from './pyrepr.js';
import {Responder} from './respond.js';
import {logEngineCrash, logEngineReady, logEngineStartupFailure, logLaunch, logServing} from './startup-log.js';
import {startStatsLog, type StatsLog} from './stats-log.js';

export type {SimOptions} from './options.js';

/** Live counters, for tests and benchmarks. */
export interface SimStats {
	/** Sequences generating now (`vllm:num_requests_running`). */
	running: number;
	/** Requests queued behind `maxNumSeqs` (`vllm:num_requests_waiting`). */
	waiting: number;
	/** Generations cut short by a client disconnect (`sim:requests_aborted_total`). */
	aborted: number;
	/** Generations that finished with `stop` or `length`. */
	completed: number;
	/** Generation requests answered with an injected 500 (`--error-rate`). */
	failed: number;
	/** Every HTTP request received, on any route. */
	totalRequests: number;
	/** Requests that reached the chat, completion or embedding handlers. */
	inferenceRequests: number;
}

export interface SimServer {
	/** Base URL to connect to, e.g. `http://127.0.0.1:8000`. */
	readonly url: string;
	readonly host: string;
	readonly port: number;
	/** Stops listening and drops open connections, aborting in-flight generations. Idempotent. */
	close(): Promise<void>;
	stats(): SimStats;
}

/** The simulated engine never came up: `--fail-on-startup`, or the port could not be bound. */
export class SimStartupError extends Error {
	/** The Python-style exception line vLLM would end its traceback with. */
	readonly pythonException: string;

	constructor(pythonException: string) {
		super(pythonException);
		this.name = 'SimStartupError';
		this.pythonException = pythonException;
	}
}

/**
 * Starts a simulated vLLM server: logs like vLLM, "loads" for the startup
 * delay without listening (clients get connection refused, as with vLLM),
 * then serves. Resolves once it accepts connections.
 */
export async function startSim(overrides: Partial<SimOptions> = {}): Promise<SimServer> {
	const options = resolveSimOptions(overrides);
	const logger = new SimLogger(options.log, options.clock);
	const kvCapacityTokens = notionalKvCapacityTokens(options);
	logLaunch(logger, options);
	// vLLM binds its socket before loading, so a taken port fails at once rather than after the load.
	if (options.startupDelaySeconds > 0 && options.port !== 0) await assertPortBindable(options.host, options.port);
	if (options.startupDelaySeconds > 0) await sleep(options.clock, options.startupDelaySeconds * 1000);
	if (options.failOnStartup) {
		logEngineStartupFailure(logger);
		throw new SimStartupError(
			"RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore_DP0': 1}",
		);
	}
	logEngineReady(logger, options, kvCapacityTokens);
	return serve(options, logger, kvCapacityTokens);
}

/**
 * KV capacity as if the GPU fitted 32 full-length sequences (fewer if
 * max-num-seqs is lower), so usage visibly climbs under load.
 */
function notionalKvCapacityTokens(options: SimOptions): number {
	return options.maxModelLen * Math.min(options.maxNumSeqs, 32);
}

async function serve(options: SimOptions, logger: SimLogger, kvCapacityTokens: number): Promise<SimServer> {
	const { clock } = options;
	let engineDead = false;
	let statsLog: StatsLog | null = null;
	let closing: Promise<void> | null = null;

	const engine = new Engine(
		{ maxNumSeqs: options.maxNumSeqs, tokenRate: options.tokenRate, ttftMs: options.ttftMs, kvCapacityTokens },
		clock,
		(requestId) => logger.info('async_llm.py:548', `Request ${requestId} aborted.`),
	);

	const crash = () => {
		logEngineCrash(logger, engine.totals.completed);
		if (options.onEngineCrash !== null) options.onEngineCrash();
		else void close();
	};

	const context: SimContext = {
		options,
		modelName: primaryModelName(options),
		servedNames: new Set(acceptedModelNames(options)),
		engine,
		responder: new Responder(options.accessLog ? logger : null, options.requestIdHeaders),
		logger,
		random: seededRandom(options.seed),
		counters: { total: 0, inference: 0, generation: 0 },
		kvCapacityTokens,
		createdSeconds: clock.wallMs() / 1000,
		engineDead: () => engineDead,
		generationCompleted: (res: ServerResponse) => {
			if (options.exitAfter === null || engineDead || engine.totals.completed < options.exitAfter) return;
			engineDead = true;
			// Let the client receive the answer that triggered the crash.
			res.once('close', crash);
		},
	};

	const server = createServer(createRequestListener(context));
	// uvicorn's default (VLLM_HTTP_TIMEOUT_KEEP_ALIVE): idle connections close after 5 s.
	server.keepAliveTimeout = 5000;
	const port = await listen(server, options.host, options.port);

	const close = (): Promise<void> => {
		closing ??= new Promise<void>((resolve) => {
			statsLog?.stop();
			engine.shutdown();
			server.close(() => resolve());
			server.closeAllConnections();
		});
		return closing;
	};

	logServing(logger, `http://${urlHost(options.host)}:${port}`, ROUTES);
	if (options.logStats && logger.enabled) {
		statsLog = startStatsLog(engine, logger, clock, options.statsIntervalMs, options.legacyMetrics);
	}

	return {
		url: `http://${urlHost(connectableHost(options.host))}:${port}`,
		host: options.host,
		port,
		close,
		stats: () => ({
			running: engine.runningCount,
			waiting: engine.waitingCount,
			aborted: engine.totals.aborted,
			completed: engine.totals.completed,
			failed: engine.totals.finished.error,
			totalRequests: context.counters.total,
			inferenceRequests: context.counters.inference,
		}),
	};
}

function listen(server: Server, host: string, port: number): Promise<number> {
	return new Promise((resolve, reject) => {
		server.once('error', (error) => reject(bindError(error, host, port)));
		server.listen({ host, port }, () => {
			const address = server.address();
			resolve(typeof address === 'object' && address !== null ? address.port : port);
		});
	});
}

function assertPortBindable(host: string, port: number): Promise<void> {
	return new Promise((resolve, reject) => {
		const probe = createNetServer();
		probe.once('error', (error) => reject(bindError(error, host, port)));
		probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
	});
}

/** Reports a bind failure the way uvicorn's Python traceback ends. */
function bindError(error: Error, host: string, port: number): SimStartupError {
	const code = 'code' in error && typeof error.code === 'string' ? error.code : '';
	const errno = new Map(Object.entries(osConstants.errno)).get(code);
	const reason = code === 'EADDRINUSE' ? 'address already in use' : error.message;
	return new SimStartupError(
		`OSError: [Errno ${errno ?? '?'}] error while attempting to bind on address (${pyStringRepr(host)}, ${port}): ${reason}`,
	);
}

/** Wildcard binds are reached through loopback. */
function connectableHost(host: string): string {
	if (host === '0.0.0.0' || host === '') return '127.0.0.1';
	if (host === '::') return '::1';
	return host;
}

function urlHost(host: string): string {
	return host.includes(':') ? `[${host}]` : host;
}
