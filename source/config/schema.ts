import {z} from 'zod';
import {isTable} from './key-path.js';
import {show} from './toml-text.js';
import {readSlurmMemory, readSlurmTime, slurmMemoryExpected, slurmTimeExpected, srunCommandExpected} from './slurm.js';
import {routingPolicies} from './types.js';
import {commandExpected, durationExpected, logLevelExpected, mustBe, readCommand, readDuration, readLogLevel, readSize, sizeExpected, type Reading} from './values.js';

/*
 * The shape of switchboard.toml. Every message completes "<key path> …" (see toml.ts), so a
 * check only says what it expected and what it got.
 */

/** The error option of a zod check: what the key expects, or that it is missing. */
function expecting(expected: string) {
	return {error: (issue: {input?: unknown}) => issue.input === undefined ? `is required: ${expected}` : mustBe({expected}, show(issue.input))};
}

/** A table that refuses keys it does not know, listing those it does (typos are the usual cause). */
function table<Shape extends z.ZodRawShape>(shape: Shape) {
	const known = Object.keys(shape).join(', ');
	return z.strictObject(shape, {error: issue => issue.code === 'unrecognized_keys' ? `is not a known key; the keys here are ${known}` : mustBe({expected: 'a table'}, show(issue.input))});
}

/** A transform through a reader: its value, or an issue saying what the reader expected. */
function readWith<In, T>(read: (value: In) => Reading<T>) {
	return (value: In, context: z.core.$RefinementCtx<In>): T => {
		const reading = read(value);
		if ('expected' in reading) {
			context.addIssue({code: 'custom', message: mustBe(reading, show(value)), input: value});
			return z.NEVER;
		}

		return reading.value;
	};
}

/** Text for one of the readers flags use too; a number is read as its digits (seconds, bytes). */
function textOrNumber<T>(expected: string, read: (text: string) => Reading<T>) {
	return z.union([z.number(), z.string()], expecting(expected)).transform(readWith(value => read(String(value))));
}

function duration(options: {zeroMeans?: string}) {
	return textOrNumber(durationExpected, text => readDuration(text, options));
}

function wholeNumber(min: number, max: number, expected: string) {
	const error = expecting(expected);
	return z.int(error).min(min, error).max(max, error);
}

function text(expected: string) {
	const error = expecting(expected);
	return z.string(error).min(1, error);
}

/** A command: a list of arguments, or one string split as a shell would. */
function command(expected = commandExpected) {
	return z.union([z.string(), z.array(z.string())], expecting(expected)).transform(readWith(value => readCommand(value, expected)));
}

/** Text that a reader accepts, kept as written (sbatch reads it, not switchboard). */
function checkedText(expected: string, read: (text: string) => Reading<unknown>) {
	return text(expected).refine(value => 'value' in read(value), {error: issue => mustBe({expected}, show(issue.input))});
}

/** sbatch's options for a slurm model's jobs; sbatch checks the values, switchboard only their form where it can. */
const sbatchArgs = table({
	partition: text('a partition name such as "gpu"').optional(),
	gres: text('generic resources as sbatch --gres takes them, such as "gpu:1" or "gpu:a100:2"').optional(),
	mem: checkedText(slurmMemoryExpected, readSlurmMemory).optional(),
	time: checkedText(slurmTimeExpected, readSlurmTime).optional(),
	qos: text('a quality of service name such as "normal"').optional(),
	account: text('an account name such as "lab-42"').optional(),
	extra: z.array(text('an sbatch argument such as "--constraint=a100"'), expecting('a list of sbatch arguments such as ["--constraint=a100", "--exclusive"]')).optional(),
});

const portExpected = 'a port number from 1 to 65535';
const maxReplicas = 64;
const replicasExpected = `a whole number of backends from 1 to ${maxReplicas}`;
const capacityExpected = 'a whole number of concurrent requests, 1 or more';
const pathExpected = expecting('a path starting with /');

/** Per-model settings: in [[models]] and, as defaults for every model, in [defaults]. */
const modelSettings = {
	launcher: z.enum(['local', 'slurm', 'static'], expecting('"local", "slurm" or "static"')).optional(),
	served_name: text('the model name the server answers to').optional(),
	host: text('a host name or IP address').optional(),
	port: wholeNumber(1, 65_535, portExpected).optional(),
	port_base: wholeNumber(1, 65_535, portExpected).optional(),
	ping_path: z.string(pathExpected).startsWith('/', pathExpected).optional(),
	idle_timeout: duration({zeroMeans: 'never'}).optional(),
	group: text('a group name such as "gpu0"').optional(),
	min_residency: duration({zeroMeans: 'no minimum: a waiting request may swap it out at once'}).optional(),
	startup_timeout: duration({}).optional(),
	stop_grace: duration({zeroMeans: 'SIGKILL at once'}).optional(),
	max_queue: wholeNumber(0, Number.MAX_SAFE_INTEGER, 'a whole number of requests, 0 or more').optional(),
	max_wait: duration({}).optional(),
	// Names a shell can export: a SLURM job's script sets them with `export NAME=…`.
	env: z.record(z.string().regex(/^[A-Za-z_]\w*$/), z.string(expecting('a string in quotes, such as "0"')), {
		error: issue => issue.code === 'invalid_key'
			? 'is not an environment variable name: letters, digits and _, not starting with a digit'
			: expecting('a table such as { CUDA_VISIBLE_DEVICES = "0" }').error(issue),
	}).optional(),
	on_cold: z.enum(['hold', 'reject'], expecting('"hold" (wait until the model is ready) or "reject" (503 at once)')).optional(),
	capacity: wholeNumber(1, 1_000_000, capacityExpected).optional(),
	routing: z.enum(routingPolicies, expecting(routingPolicies.map(policy => `"${policy}"`).join(', ').replace(/, ([^,]*)$/, ' or $1'))).optional(),
	retries: wholeNumber(0, 10, 'a whole number of retries from 0 to 10').optional(),
	retry_backoff: duration({zeroMeans: 'retry at once'}).optional(),
	kv_cache_limit: z.number(expecting('a share of the KV cache from 0 to 1, such as 0.95')).min(0, expecting('a share from 0 to 1')).max(1, expecting('a share from 0 to 1')).optional(),
	waiting_limit: wholeNumber(0, Number.MAX_SAFE_INTEGER, 'a whole number of waiting requests, 0 or more').optional(),
	replicas: wholeNumber(1, maxReplicas, replicasExpected).optional(),
	min_replicas: wholeNumber(1, maxReplicas, replicasExpected).optional(),
	max_replicas: wholeNumber(1, maxReplicas, replicasExpected).optional(),
	scale_up_queue: wholeNumber(1, Number.MAX_SAFE_INTEGER, 'a whole number of queued requests per replica, 1 or more').optional(),
	scale_up_after: duration({zeroMeans: 'at once'}).optional(),
	scale_down_after: duration({zeroMeans: 'at once'}).optional(),
	gpus: z.array(z.union([z.int().min(0), z.string().min(1)]), expecting('a list of GPU ids such as [0, 1, 2, 3]')).transform(ids => ids.map(String)).optional(),
	gpus_per_replica: wholeNumber(1, 1024, 'a whole number of GPUs, 1 or more').optional(),
	max_crashes: wholeNumber(1, 1000, 'a whole number of crashes, 1 or more').optional(),
	crash_window: duration({}).optional(),
	drain_timeout: duration({zeroMeans: 'stop at once'}).optional(),
	// Slurm models only (see slurm.ts): how their jobs are submitted and reached.
	sbatch_args: sbatchArgs.optional(),
	srun_command: command(srunCommandExpected).optional(),
	reach: z.enum(['direct', 'tunnel'], expecting('"direct" (switchboard connects to the job\'s node) or "tunnel" (the job opens an SSH tunnel back to loopback_host)')).optional(),
	loopback_user: text('a user name on loopback_host, such as "ada"').optional(),
	loopback_host: text('this machine\'s host name or address as the compute nodes reach it, such as "10.10.10.5"').optional(),
	loopback_ssh_port: wholeNumber(1, 65_535, portExpected).optional(),
	renew_before: duration({zeroMeans: 'never renew'}).optional(),
};

const modelNameExpected = 'a name of letters, digits and . _ : / - such as "qwen3-8b"';

const modelName = z.string(expecting(modelNameExpected)).regex(/^[\w.:/-]+$/, expecting(modelNameExpected));

const urlExpected = 'an http(s) URL such as "http://10.0.0.5:8000"';

/** A server's base URL; a trailing `/v1` is dropped, since requests keep their own /v1/... path. */
function readBackendUrl(value: string): Reading<string> {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		return {expected: urlExpected};
	}

	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		return {expected: urlExpected};
	}

	return {value: `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`};
}

const backend = table({
	url: z.string(expecting(urlExpected)).transform(readWith(readBackendUrl)),
	capacity: wholeNumber(1, 1_000_000, capacityExpected).optional(),
});

const model = table({
	name: modelName,
	aliases: z.array(modelName, expecting('a list of names such as ["llama", "default"]')).optional(),
	command: command().optional(),
	backends: z.array(backend, expecting('a list such as [{url = "http://10.0.0.5:8000", capacity = 32}]')).optional(),
	...modelSettings,
});

/** `~` alone or `~/…` is the home directory; `~user` would silently become a folder named so. */
function localPath(expected: string) {
	return text(expected).refine(value => !/^~[^/]/.test(value), {error: issue => mustBe({expected: `${expected} (~ is expanded, ~user is not)`}, show(issue.input))});
}

const keyExpected = 'a key, a non-empty string';

/** What a value is, without showing it: where a key belongs, a wrong value may still be one, and messages get logged. */
function hidden(value: unknown): string {
	if (value === '') {
		return '""';
	}

	return Array.isArray(value) ? 'a list' : isTable(value) ? 'a table' : value instanceof Date ? 'a date' : `a ${typeof value}`;
}

function key() {
	const error = {error: (issue: {input?: unknown}) => issue.input === undefined ? `is required: ${keyExpected}` : mustBe({expected: keyExpected}, hidden(issue.input))};
	return z.string(error).min(1, error);
}

const modelPatternExpected = expecting('a model name, or the start of names followed by *, such as "qwen*"');

const userKey = table({
	key: key(),
	user: text('a user name for the logs, such as "alice"').optional(),
	models: z.array(z.string(modelPatternExpected).regex(/^(?:[\w.:/-]+\*?|\*)$/, modelPatternExpected), expecting('a list of models such as ["llama-8b", "qwen*"]'))
		// An empty list reads as "no limit" to some and "nothing" to others: neither is written so.
		.min(1, {error: 'must name at least one model (got []); leave models out to allow every model'})
		.optional(),
});

/** [[keys]] tables (`where` is their key path, for messages), each with a key of its own. */
function userKeys(where: string) {
	return z.array(userKey, expecting(`a list of [[${where}]] tables`)).superRefine((entries, context) => {
		const first = new Map<string, number>();
		for (const [index, entry] of entries.entries()) {
			const earlier = first.get(entry.key);
			if (earlier === undefined) {
				first.set(entry.key, index);
				continue;
			}

			// The key itself is never shown: messages end up in logs and admin replies.
			const owner = entries[earlier]!.user;
			context.addIssue({code: 'custom', path: [index, 'key'], message: `is the same key as ${where}[${earlier}]${owner === undefined ? '' : ` (user ${JSON.stringify(owner)})`}; give each entry its own key`});
		}
	});
}

const server = table({
	host: text('a host name or IP address, such as "127.0.0.1" or "0.0.0.0"').optional(),
	port: wholeNumber(0, 65_535, 'a port number from 0 to 65535 (0 = any free port)').optional(),
	api_keys: z.array(key(), {error: issue => mustBe({expected: 'a list of keys such as ["key-1"]'}, hidden(issue.input))}).optional(),
	admin_key: key().optional(),
	keys: userKeys('server.keys').optional(),
	keys_file: localPath('a file path').optional(),
	log_dir: localPath('a directory path').optional(),
	log_keep: wholeNumber(0, 1_000_000, 'a whole number of log files per model, 0 or more (0 keeps them all)').optional(),
	log_max_size: textOrNumber(sizeExpected, readSize).optional(),
	log_level: z.string(expecting(logLevelExpected)).transform(readWith(readLogLevel)).optional(),
	max_body_size: textOrNumber(sizeExpected, readSize).optional(),
	health_checks: z.boolean(expecting('true or false')).optional(),
	health_interval: duration({}).optional(),
	health_timeout: duration({}).optional(),
	unhealthy_after: wholeNumber(1, 100, 'a whole number of failed checks from 1 to 100').optional(),
	state_dir: localPath('a directory path').optional(),
	switch_command: command().optional(),
	slurm_poll: duration({}).optional(),
});

export const configFileSchema = table({
	server: server.optional(),
	defaults: table(modelSettings).optional(),
	models: z.array(model, expecting('a list of [[models]] tables')).optional(),
});

/** A keys file: the [[server.keys]] of switchboard.toml, kept apart so it can change while switchboard runs. */
export const keysFileSchema = table({
	keys: userKeys('keys').optional(),
});

export type ConfigFile = z.output<typeof configFileSchema>;
export type UserKeyEntry = z.output<typeof userKey>;
export type ModelEntry = NonNullable<ConfigFile['models']>[number];
export type ModelSettings = NonNullable<ConfigFile['defaults']>;
