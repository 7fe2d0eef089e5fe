import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {configFromFlags, runFlagDefaults, type RunFlags} from '../../source/config/flags.js';
import {resolveExecutable, servedModelName, substitute} from '../../source/launchers/command.js';
import {formatDuration, parseDuration} from '../../source/util/duration.js';

const flags: RunFlags = {...runFlagDefaults, logLevel: 'INFO', logDir: '/tmp/logs', ui: false};

describe('flags', () => {
	it('turns llm-proxy-ondemand flags into one model', () => {
		const config = configFromFlags({...flags, idleTimeout: '30m', apiKey: ['k'], logLevel: 'WARNING'}, ['node', 'serve.js', '--model', 'qwen'], {});
		assert.equal(config.models[0]!.name, 'qwen');
		assert.equal(config.models[0]!.idleTimeoutMs, 30 * 60_000);
		assert.equal(config.models[0]!.maxWaitMs, 15 * 60_000, 'max wait defaults to the startup timeout');
		assert.deepEqual(config.server.apiKeys, ['k']);
		assert.equal(config.server.logLevel, 'warn');
		assert.equal(config.server.jsonLogs, true, '--no-ui logs JSON');
		assert.equal(config.server.maxBodyBytes, 32 * 1024 * 1024);
	});

	it('reads the key from SWITCHBOARD_API_KEY', () => {
		const config = configFromFlags(flags, ['node'], {SWITCHBOARD_API_KEY: 'from-env'});
		assert.deepEqual(config.server.apiKeys, ['from-env']);
	});

	it('refuses what it cannot do, saying why', () => {
		assert.throws(() => configFromFlags(flags, [], {}), /No server command given/);
		assert.throws(() => configFromFlags(flags, ['definitely-not-a-command-xyz'], {}), /no such executable on PATH/);
		assert.throws(() => configFromFlags({...flags, useSlurm: true}, ['node'], {}), /SLURM support arrives with the SLURM launcher/);
		assert.throws(() => configFromFlags({...flags, idleTimeout: 'later'}, ['node'], {}), /--idle-timeout must be a duration/);
		assert.throws(() => configFromFlags({...flags, targetPort: '8100'}, ['node'], {}), /proxy's own --port/);
		assert.throws(() => configFromFlags({...flags, logLevel: 'loud'}, ['node'], {}), /--log-level/);
		assert.throws(() => configFromFlags({...flags, maxBodySize: 'huge'}, ['node'], {}), /--max-body-size/);
		assert.throws(() => configFromFlags({...flags, pingPath: 'health'}, ['node'], {}), /--ping-path must start with \//);
		assert.throws(() => configFromFlags({...flags, port: 'abc'}, ['node'], {}), /--port must be a port number from 0 to 65535 \(got "abc"\)/);
		assert.throws(() => configFromFlags({...flags, port: ''}, ['node'], {}), /--port must be a port number/);
		assert.throws(() => configFromFlags({...flags, maxBodySize: '0'}, ['node'], {}), /--max-body-size must be larger than 0/);
		assert.throws(() => configFromFlags({...flags, apiKey: ['']}, ['node'], {}), /--api-key \(or SWITCHBOARD_API_KEY\) must be a non-empty key.*switch authentication off/);
		assert.throws(() => configFromFlags(flags, ['node'], {SWITCHBOARD_API_KEY: ''}), /non-empty key/);
	});
});

describe('server command', () => {
	it('appends --host and --port when the command has no placeholder', () => {
		assert.deepEqual(substitute(['vllm', 'serve', 'm'], '127.0.0.1', 8101), ['vllm', 'serve', 'm', '--host', '127.0.0.1', '--port', '8101']);
	});

	it('fills {host} and {port} in when present', () => {
		assert.deepEqual(substitute(['server', '--listen={host}:{port}'], '127.0.0.1', 9000), ['server', '--listen=127.0.0.1:9000']);
	});

	it('finds the served model name the way vLLM and SGLang name it', () => {
		assert.equal(servedModelName(['vllm', 'serve', 'Qwen/Qwen3-8B', '--tp', '2']), 'Qwen/Qwen3-8B');
		assert.equal(servedModelName(['python', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'a']), 'a');
		assert.equal(servedModelName(['vllm', 'serve', 'a', '--served-model-name', 'b']), 'b');
		assert.equal(servedModelName(['python', '-m', 'sglang.launch_server', '--model-path=c']), 'c');
		assert.equal(servedModelName(['/opt/bin/llama-server']), 'llama-server');
	});

	it('resolves executables on PATH only when they exist', () => {
		assert.ok(resolveExecutable('node'));
		assert.equal(resolveExecutable('no-such-program-here'), undefined);
		assert.equal(resolveExecutable('./no/such/file'), undefined);
	});
});

describe('durations', () => {
	it('reads seconds, units and fractions', () => {
		assert.equal(parseDuration('1800'), 1_800_000);
		assert.equal(parseDuration('90s'), 90_000);
		assert.equal(parseDuration('1.5h'), 5_400_000);
		assert.equal(parseDuration('250ms'), 250);
		assert.equal(parseDuration('0'), 0);
		assert.equal(parseDuration('-5'), undefined);
		assert.equal(parseDuration('soon'), undefined);
	});

	it('prints them short', () => {
		assert.equal(formatDuration(45_000), '45s');
		assert.equal(formatDuration(30 * 60_000), '30m');
		assert.equal(formatDuration(90 * 60_000), '1h30m');
	});
});
