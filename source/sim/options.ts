import {systemClock, type SimClock} from './clock.js';

/** Receives one log line at a time, without the trailing newline. */
export type SimLogSink = (line: string) => void;

export interface SimOptions {
	/** Model path or Hugging Face id (`--model` or the positional); shown as `root` in /v1/models. */
	model: string;
	/** `--served-model-name` aliases; the first one is echoed in responses and metric labels. Empty means `[model]`. */
	servedModelNames: string[];
	/** Interface to bind. Defaults to 127.0.0.1, unlike vLLM which binds all interfaces. */
	host: string;
	/** TCP port; 0 picks a free one. */
	port: number;
	/** Accepted bearer tokens; empty disables auth. */
	apiKeys: string[];
	/** Sequences generated concurrently; further requests queue as "waiting". */
	maxNumSeqs: number;
	maxModelLen: number;
	/** Seconds spent "loading the model" before the port starts listening. */
	startupDelaySeconds: number;
	/** Tokens per second per sequence; 0 produces every token at once. */
	tokenRate: number;
	/** Delay from admission to the first token, in milliseconds. */
	ttftMs: number;
	/** Completion length limit when the request gives no max_tokens. */
	defaultMaxTokens: number;
	/** Fault: print an engine failure and never listen. */
	failOnStartup: boolean;
	/** Fault: the engine "crashes" after this many completed generation requests. */
	exitAfter: number | null;
	/** Fault: generation requests after this many stall forever (0 = all of them). */
	stallAfter: number | null;
	/** Fault: fraction of generation requests answered with a 500. */
	errorRate: number;
	seed: number;
	/** Expose V0-style metrics: `vllm:gpu_cache_usage_perc` and no `engine` label. */
	legacyMetrics: boolean;
	embeddingDim: number;
	/** uvicorn-style access log line per request. */
	accessLog: boolean;
	/** The periodic "Engine 000: Avg prompt throughput" line. */
	logStats: boolean;
	statsIntervalMs: number;
	/** `--enable-server-load-tracking`: without it vLLM's /load always reports 0. */
	serverLoadTracking: boolean;
	/** `--enable-request-id-headers`: echo X-Request-Id on responses. */
	requestIdHeaders: boolean;
	/** `--enable-force-include-usage`: usage chunk on every stream, as if stream_options were sent. */
	forceIncludeUsage: boolean;
	/** Where log lines go; null keeps the simulator silent (the default in-process). */
	log: SimLogSink | null;
	clock: SimClock;
	/**
	 * Called once the engine has "crashed" (`exitAfter`). The CLI exits the process with 1;
	 * without a handler the server stops listening, which is what clients of a dead vLLM see.
	 */
	onEngineCrash: (() => void) | null;
}

/** vLLM's own default model (`vllm serve` without a model). */
export const DEFAULT_MODEL = 'Qwen/Qwen3-0.6B';

export const DEFAULT_SIM_OPTIONS: Readonly<SimOptions> = {
	model: DEFAULT_MODEL,
	servedModelNames: [],
	host: '127.0.0.1',
	port: 8000,
	apiKeys: [],
	maxNumSeqs: 256,
	maxModelLen: 4096,
	startupDelaySeconds: 0,
	tokenRate: 50,
	ttftMs: 0,
	defaultMaxTokens: 16,
	failOnStartup: false,
	exitAfter: null,
	stallAfter: null,
	errorRate: 0,
	seed: 0,
	legacyMetrics: false,
	embeddingDim: 16,
	accessLog: true,
	logStats: true,
	statsIntervalMs: 10_000,
	serverLoadTracking: false,
	requestIdHeaders: false,
	forceIncludeUsage: false,
	log: null,
	clock: systemClock,
	onEngineCrash: null,
};

export function resolveSimOptions(overrides: Partial<SimOptions>): SimOptions {
	const options: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...overrides };
	assertSimOptions(options);
	return options;
}

/** The name vLLM reports everywhere: the first alias, else the model itself. */
export function primaryModelName(options: Pick<SimOptions, 'model' | 'servedModelNames'>): string {
	return options.servedModelNames[0] ?? options.model;
}

export function acceptedModelNames(options: Pick<SimOptions, 'model' | 'servedModelNames'>): string[] {
	return options.servedModelNames.length > 0 ? options.servedModelNames : [options.model];
}

function assertSimOptions(options: SimOptions): void {
	const problems: string[] = [];
	const requireInteger = (name: keyof SimOptions, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
		if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name} must be an integer in [${min}, ${max}], got ${value}`);
	};
	const requireNumber = (name: keyof SimOptions, value: number, min: number, max = Number.POSITIVE_INFINITY) => {
		if (!Number.isFinite(value) || value < min || value > max) problems.push(`${name} must be a number in [${min}, ${max}], got ${value}`);
	};
	requireInteger('port', options.port, 0, 65535);
	requireInteger('maxNumSeqs', options.maxNumSeqs, 1);
	requireInteger('maxModelLen', options.maxModelLen, 1);
	requireNumber('startupDelaySeconds', options.startupDelaySeconds, 0);
	requireNumber('tokenRate', options.tokenRate, 0);
	requireNumber('ttftMs', options.ttftMs, 0);
	requireInteger('defaultMaxTokens', options.defaultMaxTokens, 1);
	if (options.exitAfter !== null) requireInteger('exitAfter', options.exitAfter, 1);
	if (options.stallAfter !== null) requireInteger('stallAfter', options.stallAfter, 0);
	requireNumber('errorRate', options.errorRate, 0, 1);
	requireInteger('seed', options.seed, Number.MIN_SAFE_INTEGER);
	requireInteger('embeddingDim', options.embeddingDim, 1);
	requireNumber('statsIntervalMs', options.statsIntervalMs, 1);
	if (options.model === '') problems.push('model must not be empty');
	if (problems.length > 0) throw new RangeError(`Invalid simulator options: ${problems.join('; ')}`);
}
