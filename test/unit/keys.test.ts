import assert from 'node:assert/strict';
import {mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import {pino} from 'pino';
import {KeyStore} from '../../source/access/key-store.js';
import {keyTable} from '../../source/access/key-table.js';
import {handleAdmin, type AdminContext} from '../../source/admin/router.js';
import {defaultHealth} from '../../source/config/defaults.js';
import {ConfigError} from '../../source/config/errors.js';
import {configFromFlags, runFlagDefaults} from '../../source/config/flags.js';
import {configFromCli} from '../../source/config/from-cli.js';
import {parseKeysFile} from '../../source/config/keys-file.js';
import {modelMatcher} from '../../source/config/model-patterns.js';
import {parseConfig} from '../../source/config/toml.js';
import type {Config, ServerConfig} from '../../source/config/types.js';
import {KeyChecker} from '../../source/dataplane/auth.js';
import type {AdminAccess, KeyTable} from '../../source/dataplane/protocol.js';
import {Fleet} from '../../source/fleet/fleet.js';
import {PrometheusExporter} from '../../source/metrics/exporter.js';
import {Telemetry} from '../../source/metrics/telemetry.js';
import {systemClock} from '../../source/util/clock.js';
import {keyDigest} from '../../source/util/hash.js';
import {saveAsEditorsDo} from '../helpers/files.js';
import {until} from '../helpers/switchboard-process.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'switchboard-keys-'));
after(() => rmSync(root, {recursive: true, force: true}));

const models = ['llama-8b', 'qwen3-8b', 'qwen3-32b'];
const staticModels = models.map(name => `[[models]]\nname = "${name}"\nbackends = [{url = "http://127.0.0.1:9"}]\n`).join('');

/** Writes a switchboard.toml (and files next to it) into a fresh folder; returns its path. */
function configFile(text: string, files: Record<string, string> = {}): string {
	const directory = mkdtempSync(path.join(root, 'config-'));
	for (const [name, content] of Object.entries(files)) {
		writeFileSync(path.join(directory, name), content);
	}

	const file = path.join(directory, 'switchboard.toml');
	writeFileSync(file, text);
	return file;
}

function parseFile(file: string, env: NodeJS.ProcessEnv = {}): Config {
	return parseConfig(readFileSync(file, 'utf8'), file, env);
}

/** Asserts a ConfigError whose message matches every pattern. */
function refused(run: () => unknown, ...patterns: RegExp[]): void {
	assert.throws(run, (error: unknown) => {
		assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
		for (const pattern of patterns) {
			assert.match(error.message, pattern);
		}

		return true;
	});
}

const keysFile = (text: string) => parseKeysFile(text, '/srv/keys.toml', models);

function server(overrides: Partial<ServerConfig> = {}): ServerConfig {
	return {host: '127.0.0.1', port: 8100, apiKeys: [], adminKeys: [], keys: [], keysFile: undefined, logDir: '/tmp', logKeep: 10, logMaxBytes: 1e8, maxBodyBytes: 1e6, logLevel: 'info', jsonLogs: true, ...overrides};
}

describe('keys in switchboard.toml', () => {
	it('reads admin_key, [[server.keys]] and a keys_file relative to the file', () => {
		const file = configFile(`[server]
api_keys = ["sk-team"]
admin_key = "sk-admin"
keys_file = "keys.toml"

[[server.keys]]
key = "sk-alice"
user = "alice"
models = ["llama-8b", "qwen*"]

[[server.keys]]
key = "sk-carol"
${staticModels}`, {'keys.toml': '[[keys]]\nkey = "sk-bob"\nuser = "bob"\nmodels = ["qwen3-8b"]\n'});
		const config = parseFile(file);
		assert.deepEqual(config.server.apiKeys, ['sk-team']);
		assert.deepEqual(config.server.adminKeys, ['sk-admin']);
		assert.deepEqual(config.server.keys, [
			{key: 'sk-alice', user: 'alice', models: ['llama-8b', 'qwen*']},
			{key: 'sk-carol', user: undefined, models: undefined},
		]);
		assert.deepEqual(config.server.keysFile, {
			path: path.join(path.dirname(file), 'keys.toml'),
			keys: [{key: 'sk-bob', user: 'bob', models: ['qwen3-8b']}],
		});
	});

	it('adds SWITCHBOARD_ADMIN_KEY, and refuses it empty', () => {
		const file = configFile(`[server]\nadmin_key = "a1"\n${staticModels}`);
		assert.deepEqual(parseFile(file, {SWITCHBOARD_ADMIN_KEY: 'a2'}).server.adminKeys, ['a1', 'a2']);
		refused(() => parseFile(file, {SWITCHBOARD_ADMIN_KEY: ''}), /switchboard\.toml: SWITCHBOARD_ADMIN_KEY must be a non-empty key/);
	});

	it('refuses a missing keys file, and keys that are not keys, without showing them', () => {
		refused(() => parseFile(configFile(`[server]\nkeys_file = "nope.toml"\n${staticModels}`)), /nope\.toml: cannot be read: no such file/);
		refused(() => parseFile(configFile(`[server]\nadmin_key = ""\n${staticModels}`)), /switchboard\.toml: server\.admin_key must be a key, a non-empty string \(got ""\)/);
		refused(() => parseFile(configFile(`[server]\nadmin_key = 123456\napi_keys = "sk-x"\n${staticModels}`)), /server\.admin_key must be a key, a non-empty string \(got a number\)$/m, /server\.api_keys must be a list of keys such as \["key-1"\] \(got a string\)$/m);
	});

	it('names a bad [[server.keys]] entry by its user and line', () => {
		const file = configFile(`[server]\nport = 8100\n\n[[server.keys]]\nkey = "k1"\nuser = "alice"\nmodels = ["lama-8b"]\n${staticModels}`);
		refused(() => parseFile(file), /switchboard\.toml:4: server\.keys "alice"\.models\[0\] must be a model here \(llama-8b, qwen3-8b, qwen3-32b\) or the start of one followed by \* \(got "lama-8b"\)/);
	});

	it('--admin-key overrides the file, like --api-key; the one-model mode takes it too', () => {
		const file = configFile(`[server]\nadmin_key = "from-file"\n${staticModels}`);
		const flags = {...runFlagDefaults, config: file, backends: undefined, adminKey: 'from-flag'};
		const fromCli = (given: string[], env: NodeJS.ProcessEnv = {}) => configFromCli({flags, command: [], given: new Set(given), cwd: root, env}).config.server.adminKeys;
		assert.deepEqual(fromCli(['config', 'admin-key']), ['from-flag']);
		assert.deepEqual(fromCli(['config']), ['from-file']);
		assert.deepEqual(fromCli(['config', 'admin-key'], {SWITCHBOARD_ADMIN_KEY: 'env'}), ['from-flag', 'env']);
		refused(() => configFromCli({flags: {...flags, adminKey: ''}, command: [], given: new Set(['config', 'admin-key']), cwd: root, env: {}}), /--admin-key \(or SWITCHBOARD_ADMIN_KEY\) must be a non-empty key/);

		const single = configFromFlags({...runFlagDefaults, adminKey: 'sk-admin', logDir: '/tmp'}, ['node'], {});
		assert.deepEqual([single.server.adminKeys, single.server.keys, single.server.keysFile], [['sk-admin'], [], undefined]);
		assert.deepEqual(configFromFlags({...runFlagDefaults, logDir: '/tmp'}, ['node'], {SWITCHBOARD_ADMIN_KEY: 'env'}).server.adminKeys, ['env']);
	});
});

describe('keys file errors name the file, the line and the key', () => {
	it('reads [[keys]] tables; no table is no key', () => {
		assert.deepEqual(keysFile('[[keys]]\nkey = "a"\n\n[[keys]]\nkey = "b"\nuser = "bob"\nmodels = ["*"]\n'), [
			{key: 'a', user: undefined, models: undefined},
			{key: 'b', user: 'bob', models: ['*']},
		]);
		assert.deepEqual(keysFile('# nobody yet\n'), []);
	});

	it('a TOML syntax error, with its line and column but not its text (keys are there)', () => {
		refused(() => keysFile('[[keys]]\nkey = "sk-secret"\nuser = \n'), /^\/srv\/keys\.toml:3:8: not valid TOML: [^\n]*$/);
	});

	it('an unknown key, at the line of its entry', () => {
		refused(() => keysFile('[[keys]]\nkey = "a"\n\n[[keys]]\nkey = "b"\nuser = "bob"\nmodel = ["x"]\n'), /^\/srv\/keys\.toml:4: keys "bob"\.model is not a known key; the keys here are key, user, models$/);
		refused(() => keysFile('[server]\nport = 1\n'), /^\/srv\/keys\.toml: server is not a known key; the keys here are keys$/);
	});

	it('a missing or empty key, by index when there is no user', () => {
		refused(() => keysFile('[[keys]]\nuser = "alice"\n'), /^\/srv\/keys\.toml:1: keys "alice"\.key is required: a key, a non-empty string$/);
		refused(() => keysFile('[[keys]]\nkey = "a"\n[[keys]]\nkey = ""\n'), /^\/srv\/keys\.toml:3: keys\[1\]\.key must be a key, a non-empty string \(got ""\)$/);
		refused(() => keysFile('[[keys]]\nkey = 1234567\n'), /^\/srv\/keys\.toml:1: keys\[0\]\.key must be a key, a non-empty string \(got a number\)$/);
	});

	it('bad model lists', () => {
		refused(() => keysFile('[[keys]]\nkey = "a"\nuser = "alice"\nmodels = "llama-8b"\n'), /keys\.toml:1: keys "alice"\.models must be a list of models such as \["llama-8b", "qwen\*"\] \(got "llama-8b"\)/);
		refused(() => keysFile('[[keys]]\nkey = "a"\nmodels = []\n'), /keys\.toml:1: keys\[0\]\.models must name at least one model \(got \[\]\); leave models out to allow every model/);
		refused(() => keysFile('[[keys]]\nkey = "a"\nmodels = ["q*wen"]\n'), /keys\[0\]\.models\[0\] must be a model name, or the start of names followed by \*, such as "qwen\*" \(got "q\*wen"\)/);
		refused(() => keysFile('[[keys]]\nkey = "a"\nmodels = ["llama-8b", "mistral*"]\n'), /keys\.toml:1: keys\[0\]\.models\[1\] must be a model here .* \(got "mistral\*"\)/);
	});

	it('the same key twice, without showing it', () => {
		refused(() => keysFile('[[keys]]\nkey = "sk-same"\nuser = "alice"\n\n[[keys]]\nkey = "sk-same"\nuser = "bob"\n'), /^\/srv\/keys\.toml:5: keys "bob"\.key is the same key as keys\[0\] \(user "alice"\); give each entry its own key$/);
		assert.throws(() => keysFile('[[keys]]\nkey = "sk-same"\n[[keys]]\nkey = "sk-same"\n'), (error: Error) => !error.message.includes('sk-same'));
	});

	it('every problem at once, one line each', () => {
		assert.throws(() => keysFile('[[keys]]\nkey = ""\n[[keys]]\nuser = "x"\n'), (error: Error) => error.message.split('\n').length === 2);
	});
});

describe('model patterns', () => {
	it('matches exact names, prefixes with a trailing *, and everything without a list', () => {
		const alice = modelMatcher(['llama-8b', 'qwen*']);
		assert.equal(alice('llama-8b'), true);
		assert.equal(alice('llama-8b-instruct'), false, 'a name without * is exact');
		assert.equal(alice('qwen3-8b'), true);
		assert.equal(alice('qwen'), true);
		assert.equal(alice('Qwen3'), false, 'case matters, as in model names');
		assert.equal(modelMatcher(['llama-8b'])('qwen3-8b'), false);
		assert.equal(modelMatcher(undefined)('anything'), true);
		assert.equal(modelMatcher(['*'])('anything'), true);
	});
});

describe('the key table', () => {
	const grant = (table: KeyTable, key: string) => table.grants.find(entry => entry.digest === keyDigest(key));

	it('carries digests, never keys', () => {
		const table = keyTable(server({apiKeys: ['sk-team'], keys: [{key: 'sk-alice', user: 'alice', models: ['qwen*']}]}), []);
		assert.equal(JSON.stringify(table).includes('sk-'), false);
		assert.deepEqual(grant(table, 'sk-alice'), {digest: keyDigest('sk-alice'), user: 'alice', models: ['qwen*'], admin: false});
	});

	it('admin: the admin key when there is one', () => {
		const table = keyTable(server({apiKeys: ['sk-team'], adminKeys: ['sk-admin'], keys: [{key: 'sk-carol', user: 'carol', models: undefined}]}), []);
		assert.deepEqual(table.grants.map(entry => entry.admin), [true, false, false]);
		assert.equal(grant(table, 'sk-admin')!.models, undefined, 'the admin key may use every model');
	});

	it('admin: without an admin key, every key that may use every model', () => {
		const table = keyTable(server({apiKeys: ['sk-team']}), [{key: 'sk-carol', user: 'carol', models: undefined}, {key: 'sk-alice', user: 'alice', models: ['llama-8b']}]);
		assert.deepEqual(table.grants.map(entry => [entry.user, entry.admin]), [[undefined, true], ['carol', true], ['alice', false]]);
	});

	it('is off only when no key and no keys file is configured', () => {
		assert.equal(keyTable(server(), []).required, false);
		assert.equal(keyTable(server({adminKeys: ['a']}), []).required, true);
		assert.equal(keyTable(server({keysFile: {path: '/srv/keys.toml', keys: []}}), []).required, true, 'an emptied keys file locks out, it does not open up');
	});

	it('gives a key listed twice what each entry grants', () => {
		const table = keyTable(server({keys: [{key: 'k', user: 'alice', models: ['llama-8b']}]}), [{key: 'k', user: 'other', models: ['qwen*']}, {key: 'sk-team', user: undefined, models: undefined}]);
		assert.equal(table.grants.length, 2);
		assert.deepEqual(grant(table, 'k'), {digest: keyDigest('k'), user: 'alice', models: ['llama-8b', 'qwen*'], admin: false});
	});
});

describe('key checks on the data plane', () => {
	it('lets everyone in, as admin, when no key is configured', () => {
		const access = new KeyChecker({required: false, grants: []}).check(undefined);
		assert.deepEqual([access?.admin, access?.user, access?.allows('x')], [true, undefined, true]);
	});

	it('finds the key\'s grant, or nothing for a wrong or missing key', () => {
		const keys = new KeyChecker(keyTable(server({adminKeys: ['sk-admin'], keys: [{key: 'sk-alice', user: 'alice', models: ['qwen*']}]}), []));
		const alice = keys.check('Bearer sk-alice');
		assert.deepEqual([alice?.user, alice?.admin, alice?.allows('qwen3-8b'), alice?.allows('llama-8b')], ['alice', false, true, false]);
		assert.equal(keys.check('bearer sk-admin')?.admin, true);
		assert.equal(keys.check('Bearer sk-alic'), undefined);
		assert.equal(keys.check('sk-alice'), undefined);
		assert.equal(keys.check(undefined), undefined);
	});

	it('takes a new table at once', () => {
		const keys = new KeyChecker(keyTable(server({apiKeys: ['old']}), []));
		keys.update(keyTable(server({apiKeys: ['new']}), []));
		assert.equal(keys.check('Bearer old'), undefined);
		assert.ok(keys.check('Bearer new'));
	});
});

describe('admin access', () => {
	const file = configFile(`[server]\nkeys_file = "keys.toml"\n${staticModels}`, {'keys.toml': '[[keys]]\nkey = "a"\n'});
	const config = parseFile(file);
	const fleet = new Fleet(config, {
		launch() {
			throw new Error('static models only');
		},
		quiesce: async () => true,
		busyBackends: async () => [],
	});
	const published: KeyTable[] = [];
	const store = new KeyStore(config.server, models, pino({level: 'silent'}), table => published.push(table));
	const context = (keys: KeyStore): AdminContext => {
		const telemetry = new Telemetry({...defaultHealth, enabled: false}, systemClock, async () => ({status: 200, body: ''}), {health() {}, loads() {}});
		return {fleet, keys, telemetry, exporter: new PrometheusExporter(fleet, telemetry), about: () => ({version: '0.0.0', url: 'http://127.0.0.1:8100', startedAt: 0, auth: true})} as AdminContext;
	};

	const call = async (method: string, requestPath: string, access: AdminAccess) => handleAdmin({method, path: requestPath, query: {}, access, body: ''}, context(store));

	it('/health is public; reading needs a key; changing needs admin', async () => {
		assert.equal((await call('GET', '/health', 'none')).status, 200);
		assert.equal((await call('GET', '/status', 'none')).status, 401);
		assert.equal((await call('HEAD', '/status', 'user')).status, 200);
		const denied = await call('POST', '/keys/reload', 'user');
		assert.equal(denied.status, 401);
		assert.match(denied.body, /POST \/keys\/reload changes switchboard, so it needs the admin key/);
		assert.equal((await call('POST', '/keys/reload', 'none')).status, 401);
		assert.equal(published.length, 0);
		const reloaded = await call('POST', '/keys/reload', 'admin');
		assert.equal(reloaded.status, 200);
		assert.deepEqual(JSON.parse(reloaded.body), {keys: 1, file: path.join(path.dirname(file), 'keys.toml')});
		assert.equal(published.length, 1);
	});

	it('POST /keys/reload answers a broken file with its error and keeps the keys', async () => {
		writeFileSync(path.join(path.dirname(file), 'keys.toml'), '[[keys]]\nkey = "a"\nmodels = ["nope"]\n');
		const reply = await call('POST', '/keys/reload', 'admin');
		assert.equal(reply.status, 400);
		const {error} = JSON.parse(reply.body) as {error: {code: string; message: string}};
		assert.equal(error.code, 'invalid_keys_file');
		assert.match(error.message, /keys\.toml:1: keys\[0\]\.models\[0\] must be a model here .*\nThe keys read before stay valid\./);
		assert.equal(published.length, 1, 'nothing new was sent to the data plane');
	});

	it('without a keys file, there is nothing to reload', async () => {
		const bare = new KeyStore(server(), models, pino({level: 'silent'}), () => undefined);
		const reply = await handleAdmin({method: 'POST', path: '/keys/reload', query: {}, access: 'admin', body: ''}, context(bare));
		assert.equal(reply.status, 404);
	});
});

describe('the keys file watcher', () => {
	it('applies a valid edit, keeps the keys through a broken edit and a deletion, saying so', async () => {
		const directory = mkdtempSync(path.join(root, 'watch-'));
		const file = path.join(directory, 'keys.toml');
		writeFileSync(file, '[[keys]]\nkey = "a"\n');
		const lines: Array<{level: number; msg: string; reason?: string}> = [];
		const logger = pino({level: 'info'}, {write: (line: string) => lines.push(JSON.parse(line) as {level: number; msg: string})});
		const published: KeyTable[] = [];
		const config = server({keysFile: {path: file, keys: parseKeysFile('[[keys]]\nkey = "a"\n', file, models)}});
		const store = new KeyStore(config, models, logger, table => published.push(table));
		store.watch();
		try {
			saveAsEditorsDo(file, '[[keys]]\nkey = "a"\n[[keys]]\nkey = "b"\nuser = "bob"\n');
			await until(() => published.length === 1, 5000, 'the edit to be applied');
			assert.equal(published[0]!.grants.length, 2);

			writeFileSync(file, '[[keys]]\nkey = "a"\nuser = \n');
			await until(() => lines.some(line => line.level === 50), 5000, 'an error line');
			assert.match(lines.find(line => line.level === 50)!.reason!, /keys\.toml:3:8: not valid TOML/);
			assert.equal(published.length, 1);

			unlinkSync(file);
			await until(() => lines.some(line => line.level === 40), 5000, 'a warning');
			assert.match(lines.find(line => line.level === 40)!.msg, /the keys file is gone: the keys it had stay valid/);
			assert.equal(published.length, 1);
			assert.equal(store.table.grants.length, 2, 'the last good keys stay');
		} finally {
			store.close();
		}
	});
});
