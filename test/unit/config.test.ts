import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {ConfigError} from '../../source/config/errors.js';
import {configFromFlags, runFlagDefaults, type RunFlags} from '../../source/config/flags.js';
import {configFromCli} from '../../source/config/from-cli.js';
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

describe('SLURM flags', () => {
	const noSbatchArgs = {partition: undefined, gres: undefined, mem: undefined, time: undefined, qos: undefined, account: undefined, extra: []};

	it('reads llm-proxy-ondemand\'s command line: srun through a tunnel to the loopback host', () => {
		// Seed 000's line: the command runs on the compute node, so it need not exist here.
		const config = configFromFlags({...flags, useSlurm: true, srunCmd: 'srun --mem=100M --gres=gpu:1', loopbackUser: 'root', loopbackHost: '127.0.0.1'}, ['cmd'], {});
		const [model] = config.models;
		assert.equal(model!.launcher, 'slurm');
		assert.deepEqual(model!.slurm, {
			sbatch: noSbatchArgs,
			srunCommand: ['srun', '--mem=100M', '--gres=gpu:1'],
			reach: 'tunnel',
			tunnel: {user: 'root', host: '127.0.0.1', sshPort: 22},
			renewBeforeMs: 0,
		});
		assert.equal(model!.host, '127.0.0.1', 'a tunnelled job binds loopback, where its tunnel connects');
		assert.deepEqual(model!.command, ['cmd']);
		assert.equal(config.defaults.slurm, model!.slurm, 'models of POST /switch run as the flags say');
	});

	it('runs under srun --mem=30G --gres=gpu:1 unless --srun-cmd says, and reaches the node directly without --loopback-host', () => {
		const [model] = configFromFlags({...flags, useSlurm: true}, ['vllm', 'serve', 'Qwen/Qwen3-8B'], {}).models;
		assert.deepEqual(model!.slurm, {sbatch: noSbatchArgs, srunCommand: ['srun', '--mem=30G', '--gres=gpu:1'], reach: 'direct', tunnel: undefined, renewBeforeMs: 0});
		assert.equal(model!.host, '0.0.0.0', 'switchboard connects from another machine');
	});

	it('takes the tunnel\'s user from USER, then LOGNAME, and its sshd port from --loopback-port', () => {
		const slurm = (extra: Partial<RunFlags>, env: NodeJS.ProcessEnv) => configFromFlags({...flags, useSlurm: true, loopbackHost: 'login-1', ...extra}, ['cmd'], env).models[0]!.slurm;
		assert.deepEqual(slurm({}, {USER: 'ada', LOGNAME: 'grace'})?.tunnel, {user: 'ada', host: 'login-1', sshPort: 22});
		assert.deepEqual(slurm({loopbackPort: '2222'}, {LOGNAME: 'grace'})?.tunnel, {user: 'grace', host: 'login-1', sshPort: 2222});
		assert.deepEqual(slurm({loopbackUser: 'root'}, {USER: 'ada'})?.tunnel?.user, 'root');
	});

	it('refuses SLURM flags without --use-slurm, and tunnel flags without --loopback-host', () => {
		const refused = (extra: Partial<RunFlags>, pattern: RegExp) => assert.throws(() => configFromFlags({...flags, ...extra}, ['node'], {}), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
		refused({srunCmd: 'srun --mem=1G'}, /^--srun-cmd needs --use-slurm: it says how the model's SLURM job runs\.$/);
		refused({loopbackUser: 'root', loopbackHost: 'h'}, /^--loopback-user needs --use-slurm/);
		refused({loopbackHost: 'h'}, /^--loopback-host needs --use-slurm/);
		refused({loopbackPort: '2222'}, /^--loopback-port needs --use-slurm/);
		refused({useSlurm: true, loopbackUser: 'root'}, /^--loopback-user needs --loopback-host: the host the job opens its SSH tunnel to \(this machine, as the compute nodes reach it\)\.$/);
		refused({useSlurm: true, loopbackPort: '2222'}, /^--loopback-port needs --loopback-host/);
		refused({useSlurm: true, loopbackHost: 'h', loopbackPort: '0'}, /^--loopback-port must be a port number from 1 to 65535 \(got "0"\)\.$/);
		refused({useSlurm: true, loopbackHost: ''}, /^--loopback-host must be a host name or address, such as 10\.10\.10\.5 \(got ""\)\.$/);
		refused({useSlurm: true, loopbackHost: 'h', loopbackUser: ' '}, /^--loopback-user must be a user name on the --loopback-host \(got " "\)\.$/);
		refused({useSlurm: true, srunCmd: ''}, /^--srun-cmd must be an srun command such as "srun --mem=30G --gres=gpu:1"/);
		refused({useSlurm: true, srunCmd: 'srun "--mem=1G'}, /^--srun-cmd must be a command line whose quotes are closed/);
	});

	it('points to the file\'s keys when a config file describes the models', () => {
		const given = (flag: string, extra: Partial<RunFlags>) => () => configFromCli({flags: {...flags, ...extra, config: 'fleet.toml', backends: undefined}, command: [], given: new Set([flag]), cwd: '/', env: {}});
		assert.throws(given('use-slurm', {useSlurm: true}), /^ConfigError: --use-slurm sets the one model of `switchboard -- <command>`; with fleet\.toml, set it in \[defaults\] or per model \(as launcher = "slurm"\)\.$/);
		assert.throws(given('srun-cmd', {srunCmd: 'srun'}), /\(as srun_command\)/);
		assert.throws(given('loopback-host', {loopbackHost: 'h'}), /\(as loopback_host\)/);
		assert.throws(given('loopback-port', {loopbackPort: '22'}), /\(as loopback_ssh_port\)/);
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
