import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import {fileURLToPath} from 'node:url';
import {changedSettings, settingName, startSettings} from '../../source/config/changes.js';
import {ConfigError} from '../../source/config/errors.js';
import {splitShellWords} from '../../source/config/shell-words.js';
import {findConfigFile, loadConfigFile, parseConfig} from '../../source/config/toml.js';

const file = '/etc/switchboard/switchboard.toml';
const env = {HOME: '/home/ada'};
const parse = (text: string) => parseConfig(text, file, env);
const model = (name: string, extra = '') => `[[models]]\nname = "${name}"\ncommand = ["node", "serve.js"]\n${extra}\n`;

/** Asserts the text is refused with a ConfigError whose message matches every pattern. */
function assertRefused(text: string, ...patterns: RegExp[]): void {
	assert.throws(() => parse(text), (error: unknown) => {
		assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
		for (const pattern of patterns) {
			assert.match(error.message, pattern);
		}

		return true;
	});
}

describe('switchboard.toml', () => {
	it('fills in the same defaults as the flags', () => {
		const config = parseConfig('[[models]]\nname = "qwen3-8b"\ncommand = ["node", "serve.js", "--model", "Qwen/Qwen3-8B"]\n', file, env);
		assert.deepEqual(config.server, {
			host: '127.0.0.1',
			port: 8100,
			apiKeys: [],
			adminKeys: [],
			keys: [],
			keysFile: undefined,
			logDir: '/home/ada/.local/state/switchboard/logs',
			logKeep: 10,
			logMaxBytes: 100 * 1024 * 1024,
			stateDir: '/home/ada/.local/state/switchboard',
			slurmPollMs: 2000,
			switchCommand: ['vllm', 'serve'],
			maxBodyBytes: 32 * 1024 * 1024,
			logLevel: 'info',
			jsonLogs: false,
			health: {enabled: true, intervalMs: 2000, timeoutMs: 2000, unhealthyAfter: 3},
		});
		assert.deepEqual(config.models, [{
			name: 'qwen3-8b',
			servedName: 'Qwen/Qwen3-8B',
			aliases: [],
			launcher: 'local',
			slurm: undefined,
			backends: [],
			command: ['node', 'serve.js', '--model', 'Qwen/Qwen3-8B'],
			host: '127.0.0.1',
			port: undefined,
			portBase: 8101,
			pingPath: '/health',
			idleTimeoutMs: 1_800_000,
			group: undefined,
			minResidencyMs: 30_000,
			startupTimeoutMs: 15 * 60_000,
			stopGraceMs: 10_000,
			maxQueue: 100,
			maxWaitMs: 15 * 60_000,
			onCold: 'hold',
			capacity: 32,
			replicas: {min: 1, max: 1, scaleUpQueue: 4, scaleUpAfterMs: 30_000, scaleDownAfterMs: 5 * 60_000},
			gpus: [],
			gpusPerReplica: 0,
			maxCrashes: 5,
			crashWindowMs: 10 * 60_000,
			drainTimeoutMs: 5 * 60_000,
			routing: {policy: 'least-load', retries: 2, retryBackoffMs: 10, kvCacheLimit: 0.95, waitingLimit: 16},
			env: {},
		}]);
	});

	it('reads replicas, their GPUs and crash limits', () => {
		const [fixed, scaled] = parse(`[defaults]
max_crashes = 3
crash_window = "5m"
drain_timeout = "30s"
${model('fixed', 'replicas = 2\ngpus = [0, 1, 2, 3]')}
${model('scaled', 'min_replicas = 1\nmax_replicas = 4\nscale_up_queue = 2\nscale_up_after = "10s"\nscale_down_after = "1m"\ngpus = ["GPU-a", "GPU-b", "GPU-c", "GPU-d"]\ngpus_per_replica = 1')}`).models;
		assert.deepEqual(fixed!.replicas, {min: 2, max: 2, scaleUpQueue: 4, scaleUpAfterMs: 30_000, scaleDownAfterMs: 300_000});
		assert.deepEqual([fixed!.gpus, fixed!.gpusPerReplica], [['0', '1', '2', '3'], 2]);
		assert.deepEqual(scaled!.replicas, {min: 1, max: 4, scaleUpQueue: 2, scaleUpAfterMs: 10_000, scaleDownAfterMs: 60_000});
		assert.equal(scaled!.gpusPerReplica, 1);
		assert.deepEqual([scaled!.maxCrashes, scaled!.crashWindowMs, scaled!.drainTimeoutMs], [3, 300_000, 30_000]);
	});

	it('refuses replica settings that contradict each other', () => {
		assertRefused(model('a', 'replicas = 2\nmax_replicas = 3'), /models "a"\.replicas is a fixed count; set either replicas or min_replicas\/max_replicas, not both/);
		assertRefused(model('a', 'min_replicas = 3\nmax_replicas = 2'), /models "a"\.min_replicas 3 is more than max_replicas 2/);
		assertRefused(model('a', 'replicas = 2\nport = 9000'), /models "a"\.port 9000 is one port, but each of up to 2 replicas needs its own/);
		assertRefused(model('a', 'replicas = 3\ngpus = [0, 1]'), /models "a"\.gpus lists 2 GPUs, too few for 3 replicas/);
		assertRefused(model('a', 'replicas = 0'), /models "a"\.replicas must be a whole number of backends from 1 to 64 \(got 0\)/);
		assertRefused('[[models]]\nname = "s"\nbackends = [{url = "http://10.0.0.5:8000"}]\nreplicas = 2\n', /models "s"\.replicas does not apply to a static model/);
	});

	it('reads routing, health and cold-start settings, with [defaults] under each model', () => {
		const config = parse(`[server]
health_interval = "5s"
health_timeout = "1500ms"
unhealthy_after = 2
[defaults]
routing = "session"
retries = 1
[[models]]
name = "a"
aliases = ["default", "llama"]
command = ["node", "serve.js"]
on_cold = "reject"
capacity = 64
kv_cache_limit = 0.9
waiting_limit = 4
retry_backoff = 0
${model('b', 'routing = "round-robin"')}`);
		assert.deepEqual(config.server.health, {enabled: true, intervalMs: 5000, timeoutMs: 1500, unhealthyAfter: 2});
		const [a, b] = config.models;
		assert.deepEqual(a!.aliases, ['default', 'llama']);
		assert.equal(a!.onCold, 'reject');
		assert.equal(a!.capacity, 64);
		assert.deepEqual(a!.routing, {policy: 'session', retries: 1, retryBackoffMs: 0, kvCacheLimit: 0.9, waitingLimit: 4});
		assert.equal(b!.routing.policy, 'round-robin');
		assert.equal(b!.routing.retries, 1);
		assertRefused(model('a', 'routing = "fastest"'), /models "a"\.routing must be "least-load", "least-inflight", "round-robin", "random" or "session" \(got "fastest"\)/);
		assertRefused(model('a', 'on_cold = "wait"'), /models "a"\.on_cold must be "hold" \(wait until the model is ready\) or "reject" \(503 at once\)/);
		assertRefused(model('a', 'kv_cache_limit = 95'), /models "a"\.kv_cache_limit must be a share from 0 to 1/);
	});

	it('reads every server setting', () => {
		const config = parse(`[server]
host = "0.0.0.0"
port = 9000
api_keys = ["k1", "k2"]
log_level = "WARNING"
max_body_size = 1024
log_keep = 3
log_max_size = "5mb"
${model('a')}`);
		assert.equal(config.server.host, '0.0.0.0');
		assert.equal(config.server.port, 9000);
		assert.deepEqual(config.server.apiKeys, ['k1', 'k2']);
		assert.equal(config.server.logLevel, 'warn', 'log levels are case-insensitive');
		assert.equal(config.server.maxBodyBytes, 1024, 'a number is bytes');
		assert.equal(config.server.logKeep, 3);
		assert.equal(config.server.logMaxBytes, 5 * 1024 * 1024);
	});

	it('appends SWITCHBOARD_API_KEY to the keys of the file', () => {
		const config = parseConfig(`[server]\napi_keys = ["k1"]\n${model('a')}`, file, {...env, SWITCHBOARD_API_KEY: 'from-env'});
		assert.deepEqual(config.server.apiKeys, ['k1', 'from-env']);
	});

	it('expands ~ and reads a relative log_dir from the folder of the file', () => {
		assert.equal(parse(`[server]\nlog_dir = "~/logs/sb"\n${model('a')}`).server.logDir, '/home/ada/logs/sb');
		assert.equal(parse(`[server]\nlog_dir = "~"\n${model('a')}`).server.logDir, '/home/ada');
		assert.equal(parse(`[server]\nlog_dir = "logs"\n${model('a')}`).server.logDir, '/etc/switchboard/logs');
		assert.equal(parse(`[server]\nlog_dir = "/var/log/sb"\n${model('a')}`).server.logDir, '/var/log/sb');
		assert.equal(parseConfig(`[server]\nlog_dir = "logs"\n${model('a')}`, 'conf/switchboard.toml', env).server.logDir, path.resolve('conf/logs'));
	});

	it('gives every model the [defaults] it does not set itself', () => {
		const config = parse(`[defaults]
idle_timeout = "5m"
startup_timeout = 600
port_base = 9100
env = { HF_HOME = "/data/hf", CUDA_VISIBLE_DEVICES = "0" }

${model('a', 'idle_timeout = 0\nenv = { CUDA_VISIBLE_DEVICES = "1" }')}
${model('b', 'max_wait = "1m"\nserved_name = "org/b"\nping_path = "/ping"\nmax_queue = 0\nstop_grace = "2.5s"\nhost = "::1"\nport = 9200')}`);
		const [a, b] = config.models;
		assert.equal(a!.idleTimeoutMs, 0, 'a model overrides [defaults]; 0 = never');
		assert.equal(b!.idleTimeoutMs, 5 * 60_000);
		assert.equal(a!.startupTimeoutMs, 600_000, 'a bare number is seconds');
		assert.equal(a!.maxWaitMs, 600_000, 'max_wait defaults to the inherited startup timeout');
		assert.equal(b!.maxWaitMs, 60_000);
		assert.equal(a!.portBase, 9100);
		assert.deepEqual(a!.env, {HF_HOME: '/data/hf', CUDA_VISIBLE_DEVICES: '1'}, 'env merges key by key');
		assert.deepEqual(b!.env, {HF_HOME: '/data/hf', CUDA_VISIBLE_DEVICES: '0'});
		assert.equal(a!.servedName, undefined, 'a command that declares no model name has none');
		assert.deepEqual(
			[b!.servedName, b!.pingPath, b!.maxQueue, b!.stopGraceMs, b!.host, b!.port],
			['org/b', '/ping', 0, 2500, '::1', 9200],
		);
	});

	it('splits a command given as one string like a shell, quotes and escapes included', () => {
		const config = parse(`[[models]]
name = "a"
command = '''node "serve it.js" --name 'a b' c\\ d "say \\"hi\\"" $HOME'''
`);
		assert.deepEqual(config.models[0]!.command, ['node', 'serve it.js', '--name', 'a b', 'c d', 'say "hi"', '$HOME']);
	});

	it('reads the example fleet', () => {
		const fleet = fileURLToPath(new URL('../fixtures/config/fleet.toml', import.meta.url));
		const config = loadConfigFile(fleet, env);
		assert.deepEqual(config.models.map(entry => [entry.name, entry.servedName, entry.port, entry.idleTimeoutMs]), [
			['small', 'small', undefined, 10 * 60_000],
			['large', 'sim/large', 8200, 30 * 60_000],
		]);
		assert.equal(config.models[1]!.command.at(-1), '{host}');
		assert.equal(config.server.logDir, path.join(path.dirname(fleet), 'logs'));
	});
});

describe('switchboard.toml errors name the file, the key and what is expected', () => {
	it('a TOML syntax error, with its line and column', () => {
		assertRefused(`${model('a')}\n[server]\nport = \n`, /^\/etc\/switchboard\/switchboard\.toml:7:8: not valid TOML: /, /7:  port = /);
	});

	it('an unknown key, listing the known ones', () => {
		assertRefused(`[server]\nprot = 8100\n${model('a')}`, /switchboard\.toml: server\.prot is not a known key; the keys here are host, port, api_keys, admin_key, keys, keys_file, log_dir, log_keep, log_max_size, log_level, max_body_size, health_checks/);
		assertRefused(model('a', 'gpu = 2'), /switchboard\.toml: models "a"\.gpu is not a known key; the keys here are name, aliases, command, backends, launcher, /);
		assertRefused(`[defaults]\nname = "x"\n${model('a')}`, /switchboard\.toml: defaults\.name is not a known key/);
		assertRefused(`[sever]\n${model('a')}`, /switchboard\.toml: sever is not a known key; the keys here are server, defaults, models/);
	});

	it('a bad duration, by the name of its model', () => {
		assertRefused(model('qwen3-8b', 'idle_timeout = "soon"'), /switchboard\.toml: models "qwen3-8b"\.idle_timeout must be a duration such as 1800 \(seconds\), 90s, 30m or 2h \(got "soon"\)/);
		assertRefused(model('a', 'startup_timeout = 0'), /models "a"\.startup_timeout must be longer than 0 \(got 0\)/);
		assertRefused(model('a', 'idle_timeout = "30d"'), /models "a"\.idle_timeout must be a duration/);
		assertRefused(model('a', 'idle_timeout = "600h"'), /models "a"\.idle_timeout must be at most 24 days \(got "600h"\); 0 means never/);
		assertRefused(`[defaults]\nmax_wait = -1\n${model('a')}`, /switchboard\.toml: defaults\.max_wait must be a duration .*\(got -1\)/);
	});

	it('a bad size, log level, port or type', () => {
		assertRefused(`[server]\nmax_body_size = "huge"\n${model('a')}`, /switchboard\.toml: server\.max_body_size must be a size such as 512kb, 32mb or 1gb \(got "huge"\)/);
		assertRefused(`[server]\nlog_keep = -1\n${model('a')}`, /server\.log_keep must be a whole number of log files per model, 0 or more \(0 keeps them all\) \(got -1\)/);
		assertRefused(`[server]\nlog_max_size = "0"\n${model('a')}`, /server\.log_max_size must be larger than 0/);
		assertRefused(`[server]\nlog_level = "loud"\n${model('a')}`, /server\.log_level must be one of DEBUG, INFO, WARNING, ERROR \(got "loud"\)/);
		assertRefused(`[server]\nport = "8100"\n${model('a')}`, /server\.port must be a port number from 0 to 65535 .*\(got "8100"\)/);
		assertRefused(model('a', 'port = 70000'), /models "a"\.port must be a port number from 1 to 65535 \(got 70000\)/);
		assertRefused(model('a', 'env = { CUDA_VISIBLE_DEVICES = 0 }'), /models "a"\.env\.CUDA_VISIBLE_DEVICES must be a string in quotes/);
		assertRefused(model('a', 'env = { "A-B" = "1" }'), /models "a"\.env\.A-B is not an environment variable name: letters, digits and _/);
		assertRefused(model('a', 'ping_path = "health"'), /models "a"\.ping_path must be a path starting with \//);
		assertRefused(`[server]\nlog_dir = "~bob/logs"\n${model('a')}`, /server\.log_dir must be a directory path \(~ is expanded, ~user is not\)/);
		assertRefused(`server = 8100\n${model('a')}`, /switchboard\.toml: server must be a table \(got 8100\)/);
		assertRefused('models = { name = "a" }\n', /switchboard\.toml: models must be a list of \[\[models\]\] tables \(got a table\)/);
	});

	it('a model without a name or command, or with a bad one, by its index', () => {
		assertRefused('[[models]]\ncommand = "node"\n', /switchboard\.toml: models\[0\]\.name is required/);
		assertRefused('[[models]]\nname = "a"\n', /switchboard\.toml: models "a"\.command is required/);
		assertRefused(`${model('a')}[[models]]\nname = "b c"\ncommand = "node"\n`, /switchboard\.toml: models\[1\]\.name must be a name of letters, digits/);
		assertRefused('[[models]]\nname = "a"\ncommand = []\n', /models "a"\.command must be a command such as/);
		assertRefused('[[models]]\nname = "a"\ncommand = "node \'serve.js"\n', /models "a"\.command must be a command line whose quotes are closed .*a ' quote is never closed/);
	});

	it('a file without models', () => {
		assertRefused('[server]\nport = 8100\n', /switchboard\.toml: defines no model; add a \[\[models\]\] table/);
	});

	it('a launcher it does not know', () => {
		assertRefused(model('a', 'launcher = "docker"'), /models "a"\.launcher must be "local", "slurm" or "static" \(got "docker"\)$/);
	});

	it('a static model: backends required, no command, URLs normalised', () => {
		const config = parseConfig('[[models]]\nname = "s"\nbackends = [{url = "http://10.0.0.5:8000/v1/", capacity = 8}, {url = "https://gpu:9000"}]\n', 'switchboard.toml', {});
		assert.equal(config.models[0]!.launcher, 'static');
		assert.deepEqual(config.models[0]!.backends, [{url: 'http://10.0.0.5:8000', capacity: 8}, {url: 'https://gpu:9000', capacity: 32}]);
		assertRefused('[[models]]\nname = "s"\nlauncher = "static"\n', /models "s"\.backends is required for a static model/);
		assertRefused('[[models]]\nname = "s"\nbackends = [{url = "ftp://x"}]\n', /models "s"\.backends\[0\]\.url must be an http\(s\) URL/);
		assertRefused('[[models]]\nname = "s"\nlauncher = "static"\ncommand = ["node"]\nbackends = [{url = "http://x:1"}]\n', /command does not apply to a static model/);
	});

	it('two models with the same name', () => {
		assertRefused(model('a') + model('b') + model('a'), /switchboard\.toml: models\[2\]\.name "a" is already a name of models\[0\]; each model and alias needs its own name/);
		assertRefused(model('a') + model('b', 'aliases = ["a"]\n'), /models "b"\.aliases\[0\] "a" is already a name of models\[0\]/);
	});

	it('a model on the port of the proxy', () => {
		assertRefused(model('a', 'port = 8100'), /switchboard\.toml: models "a"\.port 8100 is the proxy's own server\.port/);
		assertRefused(`[server]\nport = 9000\n${model('a', 'port = 9000')}`, /models "a"\.port 9000 is the proxy's own server\.port/);
	});

	it('two models with the same fixed port, saying where the port came from', () => {
		assertRefused(model('a', 'port = 8101') + model('b', 'port = 8101'), /switchboard\.toml: models "b"\.port 8101 is already the port of models "a"; each model needs its own port/);
		assertRefused(`[defaults]\nport = 8101\n${model('a')}${model('b')}`, /models "b"\.port 8101 \(from defaults\.port\) is already the port of models "a"/);
	});

	it('a program that does not exist', () => {
		assertRefused('[[models]]\nname = "a"\ncommand = "definitely-not-a-command-xyz serve"\n', /switchboard\.toml: models "a"\.command runs `definitely-not-a-command-xyz`, which is not an executable on PATH/);
		assertRefused('[[models]]\nname = "a"\ncommand = ["./no/such/server"]\n', /models "a"\.command runs `\.\/no\/such\/server`, which is not an executable\.$/);
		assertRefused(model('a', 'env = { PATH = "/nonexistent" }'), /models "a"\.command runs `node`, which is not an executable on PATH/);
	});

	it('every problem at once, one line each', () => {
		assert.throws(() => parse(model('a', 'idle_timeout = "soon"\nmax_queue = -1')), (error: Error) => error.message.split('\n').length === 2);
	});

	it('a file that cannot be read', () => {
		assert.throws(() => loadConfigFile('/nonexistent/switchboard.toml', env), /^ConfigError: \/nonexistent\/switchboard\.toml: cannot be read: no such file\.$/);
	});
});

describe('command lines', () => {
	it('splits like a POSIX shell without expanding anything', () => {
		assert.deepEqual(splitShellWords('  vllm   serve\tm  '), {value: ['vllm', 'serve', 'm']});
		assert.deepEqual(splitShellWords(`a'b'"c" '' "a\\b" 'a\\b'`), {value: ['abc', '', 'a\\b', 'a\\b']});
		assert.deepEqual(splitShellWords('vllm serve m \\\n  --tp 2'), {value: ['vllm', 'serve', 'm', '--tp', '2']});
		assert.deepEqual(splitShellWords('echo ~ $HOME *'), {value: ['echo', '~', '$HOME', '*']});
	});

	it('says what is wrong with an unfinished line', () => {
		assert.ok('expected' in splitShellWords('a "b'));
		assert.ok('expected' in splitShellWords('a \'b'));
		assert.ok('expected' in splitShellWords('a \\'));
	});
});

describe('finding switchboard.toml', () => {
	const root = mkdtempSync(path.join(os.tmpdir(), 'switchboard-config-'));
	after(() => rmSync(root, {recursive: true, force: true}));
	const project = path.join(root, 'project');
	const home = path.join(root, 'home');
	const xdg = path.join(root, 'xdg');
	for (const directory of [project, path.join(home, '.config', 'switchboard'), path.join(xdg, 'switchboard')]) {
		mkdirSync(directory, {recursive: true});
	}

	it('finds nothing when there is no file', () => {
		assert.equal(findConfigFile(project, {HOME: home}), undefined);
	});

	it('takes the user config dir, $XDG_CONFIG_HOME first', () => {
		writeFileSync(path.join(home, '.config', 'switchboard', 'switchboard.toml'), '');
		assert.equal(findConfigFile(project, {HOME: home}), path.join(home, '.config', 'switchboard', 'switchboard.toml'));
		assert.equal(findConfigFile(project, {HOME: home, XDG_CONFIG_HOME: xdg}), undefined, 'XDG_CONFIG_HOME replaces ~/.config');
		writeFileSync(path.join(xdg, 'switchboard', 'switchboard.toml'), '');
		assert.equal(findConfigFile(project, {HOME: home, XDG_CONFIG_HOME: xdg}), path.join(xdg, 'switchboard', 'switchboard.toml'));
	});

	it('prefers ./switchboard.toml', () => {
		writeFileSync(path.join(project, 'switchboard.toml'), '');
		assert.equal(findConfigFile(project, {HOME: home, XDG_CONFIG_HOME: xdg}), path.join(project, 'switchboard.toml'));
	});

	it('ignores a directory of that name', () => {
		const other = path.join(root, 'other');
		mkdirSync(path.join(other, 'switchboard.toml'), {recursive: true});
		assert.equal(findConfigFile(other, {HOME: home}), path.join(home, '.config', 'switchboard', 'switchboard.toml'));
	});
});

describe('slurm models', () => {
	const slurmModel = (name: string, extra = '') => `[[models]]\nname = "${name}"\nlauncher = "slurm"\ncommand = "vllm serve Qwen/Qwen3-8B"\n${extra}\n`;
	const noSbatchArgs = {partition: undefined, gres: undefined, mem: undefined, time: undefined, qos: undefined, account: undefined, extra: []};

	it('submit with sbatch and cluster defaults, reached directly on every interface, when only launcher is set', () => {
		// vllm need not exist here: the command runs on a compute node.
		const config = parse(slurmModel('a'));
		const [a] = config.models;
		assert.equal(a!.launcher, 'slurm');
		assert.deepEqual(a!.slurm, {sbatch: noSbatchArgs, srunCommand: undefined, reach: 'direct', tunnel: undefined, renewBeforeMs: 0});
		assert.equal(a!.host, '0.0.0.0', 'switchboard connects to the job from another machine');
		assert.equal(config.server.slurmPollMs, 2000);
		assert.equal(config.defaults.slurm, undefined, '[defaults] without launcher = "slurm" makes local models');
	});

	it('reads every key', () => {
		const config = parse(`[server]
slurm_poll = "5s"
${slurmModel('a', `sbatch_args = { partition = "gpu", gres = "gpu:1", mem = "30G", time = "4:00:00", qos = "normal", account = "lab", extra = ["--constraint=a100", "--exclusive"] }
loopback_user = "ada"
loopback_host = "10.10.10.5"
loopback_ssh_port = 2222
renew_before = "15m"`)}
${slurmModel('b', 'srun_command = "srun --mem=30G --gres=gpu:1"\nreach = "direct"')}
${slurmModel('c', 'srun_command = ["srun", "--gres=gpu:2"]\nhost = "::"')}`);
		assert.equal(config.server.slurmPollMs, 5000);
		const [a, b, c] = config.models;
		assert.deepEqual(a!.slurm, {
			sbatch: {partition: 'gpu', gres: 'gpu:1', mem: '30G', time: '4:00:00', qos: 'normal', account: 'lab', extra: ['--constraint=a100', '--exclusive']},
			srunCommand: undefined,
			reach: 'tunnel',
			tunnel: {user: 'ada', host: '10.10.10.5', sshPort: 2222},
			renewBeforeMs: 15 * 60_000,
		});
		assert.equal(a!.host, '127.0.0.1', 'a tunnelled job binds loopback, where its tunnel connects');
		assert.deepEqual(b!.slurm, {sbatch: noSbatchArgs, srunCommand: ['srun', '--mem=30G', '--gres=gpu:1'], reach: 'direct', tunnel: undefined, renewBeforeMs: 0});
		assert.deepEqual([c!.slurm?.srunCommand, c!.host], [['srun', '--gres=gpu:2'], '::'], 'host wins over the default');
	});

	it('tunnel to loopback_host as $USER, else $LOGNAME, on port 22', () => {
		const tunnel = (env: NodeJS.ProcessEnv) => parseConfig(slurmModel('a', 'loopback_host = "login-1"'), file, env).models[0]!.slurm;
		assert.deepEqual(tunnel({USER: 'ada', LOGNAME: 'grace'}), {sbatch: noSbatchArgs, srunCommand: undefined, reach: 'tunnel', tunnel: {user: 'ada', host: 'login-1', sshPort: 22}, renewBeforeMs: 0});
		assert.equal(tunnel({LOGNAME: 'grace'})?.tunnel?.user, 'grace');
		assert.equal(tunnel({})?.tunnel?.user, os.userInfo().username);
	});

	it('inherit [defaults]: sbatch_args key by key, a model\'s own srun_command or reach over them', () => {
		const config = parseConfig(`[defaults]
sbatch_args = { partition = "gpu", account = "lab", extra = ["--exclusive"] }
loopback_host = "login-1"
loopback_user = "ada"
renew_before = "10m"
gpus = [0]
${slurmModel('a', 'sbatch_args = { gres = "gpu:2", extra = ["--constraint=a100"] }')}
${slurmModel('b', 'srun_command = "srun --gres=gpu:1"')}
${slurmModel('c', 'reach = "direct"')}
${model('local')}`, file, env);
		const [a, b, c, local] = config.models;
		assert.deepEqual(a!.slurm, {
			sbatch: {partition: 'gpu', gres: 'gpu:2', mem: undefined, time: undefined, qos: undefined, account: 'lab', extra: ['--constraint=a100']},
			srunCommand: undefined,
			reach: 'tunnel',
			tunnel: {user: 'ada', host: 'login-1', sshPort: 22},
			renewBeforeMs: 10 * 60_000,
		});
		assert.deepEqual([a!.gpus, a!.gpusPerReplica], [[], 0], 'SLURM assigns a job its GPUs; [defaults] gpus are for local models');
		assert.deepEqual([b!.slurm?.srunCommand, b!.slurm?.sbatch], [['srun', '--gres=gpu:1'], noSbatchArgs], 'a model\'s srun_command replaces the sbatch_args of [defaults]');
		assert.deepEqual([c!.slurm?.reach, c!.slurm?.tunnel, c!.host], ['direct', undefined, '0.0.0.0']);
		assert.deepEqual([local!.slurm, local!.host, local!.gpus], [undefined, '127.0.0.1', ['0']], 'slurm keys of [defaults] leave local models alone');
	});

	it('make the models of POST /switch slurm models when [defaults] says launcher = "slurm"', () => {
		const config = parseConfig(`[defaults]\nlauncher = "slurm"\nsrun_command = "srun --gres=gpu:1"\n${model('a', 'launcher = "local"')}`, file, env);
		assert.equal(config.models[0]!.slurm, undefined);
		assert.deepEqual(config.defaults.slurm, {sbatch: noSbatchArgs, srunCommand: ['srun', '--gres=gpu:1'], reach: 'direct', tunnel: undefined, renewBeforeMs: 0});
		assert.equal(config.defaults.host, '0.0.0.0');
	});

	it('refuse their keys on other models, naming the launcher to set', () => {
		assertRefused(model('a', 'sbatch_args = { gres = "gpu:1" }'), /switchboard\.toml: models "a"\.sbatch_args applies to slurm models only; set launcher = "slurm"\.$/);
		assertRefused(model('a', 'loopback_host = "h"\nrenew_before = "5m"'), /models "a"\.loopback_host applies to slurm models only; set launcher = "slurm"\.$/);
		assertRefused('[[models]]\nname = "s"\nbackends = [{url = "http://10.0.0.5:8000"}]\nreach = "direct"\n', /models "s"\.reach applies to slurm models only/);
	});

	it('refuse settings that contradict each other, each where it is written', () => {
		assertRefused(slurmModel('a', 'reach = "tunnel"'), /models "a"\.reach "tunnel" needs loopback_host, the host the job opens its SSH tunnel to: this machine's address as the compute nodes reach it, such as loopback_host = "10\.10\.10\.5"; set it, or reach = "direct"\.$/);
		assert.throws(() => parse(`[defaults]\nreach = "tunnel"\n${slurmModel('a')}${slurmModel('b')}`), (error: Error) => {
			assert.equal(error.message, `${file}: defaults.reach "tunnel" needs loopback_host, the host the job opens its SSH tunnel to: this machine's address as the compute nodes reach it, such as loopback_host = "10.10.10.5"; set it, or reach = "direct".`, 'once, not once per model');
			return true;
		});
		assertRefused(slurmModel('a', 'srun_command = "srun"\nsbatch_args = { gres = "gpu:1" }'), /models "a"\.srun_command and sbatch_args are two ways to run a model's jobs; set one: srun_command runs each under srun, sbatch_args submits each with sbatch\.$/);
		assertRefused(`[defaults]\nsrun_command = "srun"\nsbatch_args = { gres = "gpu:1" }\n${model('a')}`, /defaults\.srun_command and sbatch_args are two ways/);
		assertRefused(slurmModel('a', 'gpus = [0, 1]'), /models "a"\.gpus does not apply to a slurm model: SLURM assigns its GPUs; request them with sbatch_args\.gres \(such as gres = "gpu:2"\) or the srun command's --gres\.$/);
		assertRefused(slurmModel('a', 'gpus_per_replica = 1'), /models "a"\.gpus_per_replica does not apply to a slurm model/);
		assertRefused(slurmModel('a', 'loopback_user = "ada"'), /models "a"\.loopback_user applies to reach = "tunnel" only, which needs loopback_host: this machine's address as the compute nodes reach it, such as loopback_host = "10\.10\.10\.5"; set it, or drop loopback_user\.$/);
		assertRefused(`[defaults]\nreach = "direct"\n${slurmModel('a', 'loopback_host = "h"')}`, /models "a"\.loopback_host applies to reach = "tunnel" only, and reach is "direct" \(from defaults\.reach\); drop loopback_host, or set reach = "tunnel"\.$/);
		assertRefused(slurmModel('a', 'sbatch_args = { time = "30" }\nrenew_before = "30m"'), /models "a"\.renew_before 30m is not shorter than the jobs' time limit, sbatch_args\.time "30": each job would be renewed as soon as it is ready; lower renew_before or raise the time limit\.$/);
		assertRefused(`[defaults]\nrenew_before = "1h"\n${slurmModel('a', 'sbatch_args = { time = "1:00:00" }')}`, /models "a"\.renew_before 1h \(from defaults\.renew_before\) is not shorter than the jobs' time limit, sbatch_args\.time "1:00:00":/);
		// The renewal leaves a job time to serve; no limit or a longer one is fine.
		assert.doesNotThrow(() => parse(slurmModel('a', 'sbatch_args = { time = "1-00:00:00" }\nrenew_before = "23h"')));
		assert.doesNotThrow(() => parse(slurmModel('a', 'sbatch_args = { time = "UNLIMITED" }\nrenew_before = "23h"')));
	});

	it('refuse values of the wrong form, saying what they expect', () => {
		assertRefused(slurmModel('a', 'sbatch_args = { gpus = 1 }'), /models "a"\.sbatch_args\.gpus is not a known key; the keys here are partition, gres, mem, time, qos, account, extra$/);
		assertRefused(slurmModel('a', 'sbatch_args = "--gres=gpu:1"'), /models "a"\.sbatch_args must be a table \(got "--gres=gpu:1"\)/);
		assertRefused(slurmModel('a', 'sbatch_args = { time = "4h" }'), /models "a"\.sbatch_args\.time must be a time limit as sbatch --time reads it, such as "90" \(minutes\), "4:00:00" \(hours:minutes:seconds\) or "1-00:00:00" \(days-hours:minutes:seconds\) \(got "4h"\)$/);
		assertRefused(slurmModel('a', 'sbatch_args = { mem = "30 GB" }'), /models "a"\.sbatch_args\.mem must be memory as sbatch --mem reads it, such as "30G" or "512M" \(a bare number is megabytes\) \(got "30 GB"\)$/);
		assertRefused(slurmModel('a', 'sbatch_args = { extra = "--exclusive" }'), /models "a"\.sbatch_args\.extra must be a list of sbatch arguments such as \["--constraint=a100", "--exclusive"\] \(got "--exclusive"\)$/);
		assertRefused(slurmModel('a', 'sbatch_args = { partition = "" }'), /models "a"\.sbatch_args\.partition must be a partition name such as "gpu" \(got ""\)$/);
		assertRefused(slurmModel('a', 'srun_command = ""'), /models "a"\.srun_command must be an srun command such as "srun --mem=30G --gres=gpu:1" or \["srun", "--mem=30G", "--gres=gpu:1"\] \(got ""\)$/);
		assertRefused(slurmModel('a', 'reach = "ssh"'), /models "a"\.reach must be "direct" \(switchboard connects to the job's node\) or "tunnel" \(the job opens an SSH tunnel back to loopback_host\) \(got "ssh"\)$/);
		assertRefused(slurmModel('a', 'loopback_host = "h"\nloopback_ssh_port = 0'), /models "a"\.loopback_ssh_port must be a port number from 1 to 65535 \(got 0\)$/);
		assertRefused(slurmModel('a', 'renew_before = "soon"'), /models "a"\.renew_before must be a duration such as 1800 \(seconds\), 90s, 30m or 2h \(got "soon"\)$/);
		assertRefused(`[server]\nslurm_poll = 0\n${slurmModel('a')}`, /server\.slurm_poll must be longer than 0 \(got 0\)$/);
		assert.equal(parse(slurmModel('a', 'renew_before = 0')).models[0]!.slurm?.renewBeforeMs, 0, '0 = never renew');
	});

	it('name their keys when a reload changes them, for the model\'s next job', () => {
		const [before] = parse(slurmModel('a', 'sbatch_args = { gres = "gpu:1" }')).models;
		const [after] = parse(slurmModel('a', 'sbatch_args = { gres = "gpu:2" }')).models;
		assert.deepEqual(changedSettings(before!, after!).map(settingName), ['sbatch_args, srun_command, reach, loopback_user, loopback_host, loopback_ssh_port or renew_before']);
		assert.ok(startSettings.has('slurm'), 'a running job keeps what it was submitted with');
		assert.equal(settingName('slurmPollMs'), 'slurm_poll');
	});
});
