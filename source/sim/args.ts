import {parseArgs} from 'node:util';
import {DEFAULT_SIM_OPTIONS, type SimOptions} from './options.js';

/** A bad command line; the message is one argparse-style line. */
export class SimUsageError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'SimUsageError';
	}
}

export interface ParsedSimArgs {
	help: boolean;
	options: Partial<SimOptions>;
}

const FLAGS = {
	model: { type: 'string' },
	'served-model-name': { type: 'string', multiple: true },
	host: { type: 'string' },
	port: { type: 'string' },
	'api-key': { type: 'string', multiple: true },
	'max-num-seqs': { type: 'string' },
	'max-model-len': { type: 'string' },
	seed: { type: 'string' },
	'disable-log-stats': { type: 'boolean' },
	'disable-uvicorn-access-log': { type: 'boolean' },
	'enable-server-load-tracking': { type: 'boolean' },
	'enable-request-id-headers': { type: 'boolean' },
	'enable-force-include-usage': { type: 'boolean' },
	// Simulator-only.
	'startup-delay': { type: 'string' },
	'token-rate': { type: 'string' },
	ttft: { type: 'string' },
	'max-tokens': { type: 'string' },
	'fail-on-startup': { type: 'boolean' },
	'exit-after': { type: 'string' },
	'stall-after': { type: 'string' },
	'error-rate': { type: 'string' },
	'legacy-metrics': { type: 'boolean' },
	'embedding-dim': { type: 'string' },
	// Accepted so that real vLLM command lines run unchanged; they change nothing here.
	'tensor-parallel-size': { type: 'string' },
	'gpu-memory-utilization': { type: 'string' },
	dtype: { type: 'string' },
	'trust-remote-code': { type: 'boolean' },
	'enforce-eager': { type: 'boolean' },
	'disable-log-requests': { type: 'boolean' },
	'enable-log-requests': { type: 'boolean' },
	'uvicorn-log-level': { type: 'string' },
	'enable-prefix-caching': { type: 'boolean' },
	'no-enable-prefix-caching': { type: 'boolean' },
	'download-dir': { type: 'string' },
	help: { type: 'boolean', short: 'h' },
} as const;

/** argparse `nargs='+'` flags: `--served-model-name a b` gives two names. */
const MULTI_VALUE_FLAGS = new Set(['--served-model-name', '--api-key']);

export const SIM_USAGE = `Usage: switchboard sim [MODEL] [options]

A simulated vLLM OpenAI-compatible server (no GPU, no model).

vLLM options:
  --model NAME                    model path or id (default ${DEFAULT_SIM_OPTIONS.model}); also positional
  --served-model-name A [B ...]   aliases; the first is echoed in responses and metrics
  --host HOST                     default 127.0.0.1 (vLLM binds all interfaces by default)
  --port PORT                     default 8000; 0 picks a free port
  --api-key KEY [KEY ...]         require "Authorization: Bearer KEY" on /v1 (or VLLM_API_KEY)
  --max-num-seqs N                concurrent sequences, more wait (default 256)
  --max-model-len N               context length (default 4096)
  --seed N                        seed for --error-rate (default 0)
  --disable-log-stats             no periodic "Engine 000" stats line
  --disable-uvicorn-access-log    no access log line per request
  --enable-server-load-tracking   count in-flight requests in /load
  --enable-request-id-headers     echo X-Request-Id in responses
  --enable-force-include-usage    usage chunk on every stream

Simulation:
  --startup-delay SECONDS         "model loading" time before listening (default 0)
  --token-rate N                  tokens per second per sequence, 0 = instant (default 50)
  --ttft MS                       time to first token (default 0)
  --max-tokens N                  completion length limit when a request sets none (default 16)
  --embedding-dim N               embedding size (default 16)
  --legacy-metrics                V0 metric names (vllm:gpu_cache_usage_perc, no engine label)

Faults:
  --fail-on-startup               log an engine failure and exit 1 instead of listening
  --exit-after N                  crash (exit 1) after N completed generations
  --stall-after N                 generations after the Nth never produce a token (0 = all)
  --error-rate P                  fraction of generations answered with 500 (0..1)

Also accepted and ignored: --tensor-parallel-size/-tp, --gpu-memory-utilization, --dtype,
--trust-remote-code, --enforce-eager, --disable-log-requests, --enable-log-requests,
--uvicorn-log-level, --enable-prefix-caching, --no-enable-prefix-caching, --download-dir.
`;

export function parseSimArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedSimArgs {
	const { values, positionals } = parseStrict(normalizeArgv(argv));
	if (positionals.length > 1) throw new SimUsageError(`unrecognized arguments: ${positionals.slice(1).join(' ')}`);
	if (values.help) return { help: true, options: {} };

	checkIgnoredValues(values['tensor-parallel-size'], values['gpu-memory-utilization']);
	const apiKeys = values['api-key'] ?? (env.VLLM_API_KEY ? [env.VLLM_API_KEY] : []);
	const options: Partial<SimOptions> = {
		model: positionals[0] ?? values.model ?? DEFAULT_SIM_OPTIONS.model,
		servedModelNames: values['served-model-name'] ?? [],
		apiKeys,
		failOnStartup: values['fail-on-startup'] ?? false,
		legacyMetrics: values['legacy-metrics'] ?? false,
		logStats: !values['disable-log-stats'],
		accessLog: !values['disable-uvicorn-access-log'],
		serverLoadTracking: values['enable-server-load-tracking'] ?? false,
		requestIdHeaders: values['enable-request-id-headers'] ?? false,
		forceIncludeUsage: values['enable-force-include-usage'] ?? false,
	};
	if (values.host !== undefined) options.host = values.host;
	if (values.port !== undefined) options.port = integer('port', values.port, 0, 65535);
	if (values['max-num-seqs'] !== undefined) options.maxNumSeqs = integer('max-num-seqs', values['max-num-seqs'], 1);
	if (values['max-model-len'] !== undefined) options.maxModelLen = integer('max-model-len', values['max-model-len'], 1);
	if (values.seed !== undefined) options.seed = integer('seed', values.seed);
	if (values['startup-delay'] !== undefined) options.startupDelaySeconds = float('startup-delay', values['startup-delay'], 0);
	if (values['token-rate'] !== undefined) options.tokenRate = float('token-rate', values['token-rate'], 0);
	if (values.ttft !== undefined) options.ttftMs = float('ttft', values.ttft, 0);
	if (values['max-tokens'] !== undefined) options.defaultMaxTokens = integer('max-tokens', values['max-tokens'], 1);
	if (values['exit-after'] !== undefined) options.exitAfter = integer('exit-after', values['exit-after'], 1);
	if (values['stall-after'] !== undefined) options.stallAfter = integer('stall-after', values['stall-after'], 0);
	if (values['error-rate'] !== undefined) options.errorRate = float('error-rate', values['error-rate'], 0, 1);
	if (values['embedding-dim'] !== undefined) options.embeddingDim = integer('embedding-dim', values['embedding-dim'], 1);
	const statsInterval = Number(env.VLLM_LOG_STATS_INTERVAL);
	if (env.VLLM_LOG_STATS_INTERVAL && Number.isFinite(statsInterval) && statsInterval > 0) {
		options.statsIntervalMs = statsInterval * 1000;
	}
	return { help: false, options };
}

function parseStrict(args: string[]) {
	try {
		return parseArgs({ args, options: FLAGS, strict: true, allowPositionals: true });
	} catch (error) {
		throw new SimUsageError(describeParseError(error));
	}
}

function describeParseError(error: unknown): string {
	if (!(error instanceof Error)) return String(error);
	const code = 'code' in error ? error.code : undefined;
	const quoted = /'([^']+)'/.exec(error.message)?.[1];
	if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unrecognized arguments: ${quoted}`;
	// Node's messages run to several sentences; the first says what is wrong.
	return error.message.split(/\.\s/, 1)[0] ?? error.message;
}

/** Expands `--served-model-name a b` into repeated flags and `-tp` into its long form. */
function normalizeArgv(argv: readonly string[]): string[] {
	const normalized: string[] = [];
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i] ?? '';
		if (arg === '--') {
			normalized.push(...argv.slice(i));
			break;
		}
		if (arg === '-tp' || arg.startsWith('-tp=')) {
			normalized.push(arg.replace('-tp', '--tensor-parallel-size'));
			continue;
		}
		normalized.push(arg);
		if (!MULTI_VALUE_FLAGS.has(arg) || i + 1 >= argv.length) continue;
		normalized.push(argv[++i] ?? '');
		while (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('-')) normalized.push(arg, argv[++i] ?? '');
	}
	return normalized;
}

function integer(flag: string, text: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
	if (!/^[+-]?\d+$/.test(text.trim())) throw new SimUsageError(`argument --${flag}: invalid int value: '${text}'`);
	return inRange(flag, Number(text), min, max);
}

function float(flag: string, text: string, min: number, max = Number.POSITIVE_INFINITY): number {
	const value = text.trim() === '' ? Number.NaN : Number(text);
	if (!Number.isFinite(value)) throw new SimUsageError(`argument --${flag}: invalid float value: '${text}'`);
	return inRange(flag, value, min, max);
}

function inRange(flag: string, value: number, min: number, max: number): number {
	if (value < min || value > max) {
		const bounds = max === Number.POSITIVE_INFINITY || max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
		throw new SimUsageError(`argument --${flag}: must be ${bounds}, got ${value}`);
	}
	return value;
}

/** vLLM would reject nonsense in these even though the simulator ignores them. */
function checkIgnoredValues(tensorParallelSize: string | undefined, gpuMemoryUtilization: string | undefined): void {
	if (tensorParallelSize !== undefined) integer('tensor-parallel-size', tensorParallelSize, 1);
	if (gpuMemoryUtilization !== undefined) float('gpu-memory-utilization', gpuMemoryUtilization, 0, 1);
}
