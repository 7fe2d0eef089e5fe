import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {saveAsEditorsDo} from '../helpers/files.js';
import {cliPath, SwitchboardProcess, simCommand, until} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

const sim = (model: string) => JSON.stringify([process.execPath, cliPath, 'sim', '--model', model, '--token-rate', '0']);

const alice = `[[keys]]
key = "sk-alice"
user = "alice"
models = ["sma*"]
`;

const chat = (model: string) => ({model, messages: [{role: 'user' as const, content: 'hi'}], max_tokens: 2});

describe('per-user keys, through the real binary', () => {
	const directory = mkdtempSync(path.join(os.tmpdir(), 'switchboard-keys-'));
	const keysFile = path.join(directory, 'keys.toml');

	let switchboard: SwitchboardProcess;
	const client = (apiKey: string) => new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey, maxRetries: 0});
	const reload = async (key?: string) => fetch(`${switchboard.url}/keys/reload`, {method: 'POST', headers: key === undefined ? {} : {authorization: `Bearer ${key}`}});

	it('starts with keys from switchboard.toml and the keys file', async () => {
		const config = path.join(directory, 'switchboard.toml');
		writeFileSync(config, `[server]
api_keys = ["sk-team"]
admin_key = "sk-admin"
keys_file = "keys.toml"

[[server.keys]]
key = "sk-carol"
user = "carol"
models = ["large"]

[[models]]
name = "small"
command = ${sim('small')}

[[models]]
name = "large"
command = ${sim('large')}
`);
		writeFileSync(keysFile, alice);
		switchboard = await SwitchboardProcess.start(['--config', config], []);
		running.push(switchboard);
	});

	it('refuses a wrong or missing key with 401', async () => {
		await assert.rejects(client('sk-wrong').chat.completions.create(chat('small')), (error: InstanceType<typeof OpenAI.APIError>) => {
			assert.equal(error.status, 401);
			assert.equal(error.code, 'invalid_api_key');
			return true;
		});
		assert.equal((await fetch(`${switchboard.url}/v1/models`)).status, 401);
		assert.equal((await fetch(`${switchboard.url}/health`)).status, 200, '/health stays public');
	});

	it('serves a key the models it may use, and answers 403 for the others', async () => {
		const completion = await client('sk-alice').chat.completions.create(chat('small'));
		assert.equal(completion.model, 'small');

		await assert.rejects(client('sk-alice').chat.completions.create(chat('large')), (error: InstanceType<typeof OpenAI.APIError>) => {
			assert.ok(error instanceof OpenAI.PermissionDeniedError);
			assert.equal(error.status, 403);
			assert.equal(error.code, 'model_not_allowed');
			assert.equal(error.type, 'permission_error');
			assert.match(error.message, /may not use the model `large`\. Models it may use: `small`\./);
			return true;
		});
		await assert.rejects(client('sk-alice').chat.completions.create(chat('medium')), (error: {status: number; message: string}) => {
			assert.equal(error.status, 404);
			assert.match(error.message, /Models here: `small`\.$/, 'only the models this key may use are named');
			return true;
		});

		assert.equal((await client('sk-carol').chat.completions.create(chat('large'))).model, 'large');
		assert.equal((await client('sk-team').chat.completions.create(chat('large'))).model, 'large');
		assert.equal((await client('sk-admin').chat.completions.create(chat('small'))).model, 'small', 'the admin key may use every model');
	});

	it('lists only the models a key may use', async () => {
		const ids = async (key: string) => (await client(key).models.list()).data.map(model => model.id);
		assert.deepEqual(await ids('sk-alice'), ['small']);
		assert.deepEqual(await ids('sk-carol'), ['large']);
		assert.deepEqual(await ids('sk-team'), ['small', 'large']);
		assert.equal((await client('sk-alice').models.retrieve('small')).id, 'small');
		await assert.rejects(client('sk-alice').models.retrieve('large'), (error: {status: number}) => error.status === 404);
	});

	it('logs the user, never the key', async () => {
		await switchboard.waitFor(line => line.msg === 'request' && line['user'] === 'alice' && line['status'] === 200 && line['model'] === 'small');
		await switchboard.waitFor(line => line.msg === 'request' && line['user'] === 'alice' && line['status'] === 403);
		const lines = switchboard.lines.map(line => JSON.stringify(line)).join('\n');
		for (const key of ['sk-alice', 'sk-carol', 'sk-team', 'sk-admin']) {
			assert.equal(lines.includes(key), false, `${key} appears in the log`);
		}
	});

	it('POST /keys/reload needs the admin key', async () => {
		for (const key of [undefined, 'sk-wrong', 'sk-alice', 'sk-team']) {
			const response = await reload(key);
			assert.equal(response.status, 401, `with ${key}`);
			const {error} = await response.json() as {error: {message: string}};
			assert.match(error.message, /needs the admin key/);
		}

		const response = await reload('sk-admin');
		assert.equal(response.status, 200);
		assert.deepEqual(await response.json(), {keys: 1, file: keysFile});
		assert.equal((await fetch(`${switchboard.url}/status`, {headers: {authorization: 'Bearer sk-alice'}})).status, 200, 'reading needs any valid key');
	});

	it('applies an edit of the keys file without a restart', async () => {
		saveAsEditorsDo(keysFile, `${alice}
[[keys]]
key = "sk-bob"
user = "bob"
models = ["large"]
`);
		const bob = client('sk-bob');
		await until(async () => bob.chat.completions.create(chat('large')).then(() => true, () => false), 10_000, 'the new key to work');
		await switchboard.waitFor(line => line.msg === 'keys file read' && line['keys'] === 2);
		await assert.rejects(bob.chat.completions.create(chat('small')), (error: {status: number}) => error.status === 403);
	});

	it('rejects a broken edit, logs why, and keeps the keys it had', async () => {
		saveAsEditorsDo(keysFile, `${alice}
[[keys]]
key = "sk-bob"
user = "bob"
models = ["larg"]
`);
		const rejected = await switchboard.waitFor(line => line.msg === 'keys file not applied: the keys read before stay valid', 10_000);
		assert.equal(rejected.level, 50);
		assert.match(String(rejected['reason']), /keys\.toml:6: keys "bob"\.models\[0\] must be a model here \(small, large\) or the start of one followed by \* \(got "larg"\)/);
		assert.equal((await client('sk-bob').chat.completions.create(chat('large'))).model, 'large');
		assert.equal((await client('sk-alice').chat.completions.create(chat('small'))).model, 'small');

		const response = await reload('sk-admin');
		assert.equal(response.status, 400);
		const {error} = await response.json() as {error: {code: string; message: string}};
		assert.equal(error.code, 'invalid_keys_file');
		assert.match(error.message, /got "larg"/);
	});
});

describe('admin keys on the command line', () => {
	it('--admin-key is needed for changes, while --api-key reads', async () => {
		const switchboard = await SwitchboardProcess.start(['--api-key', 'sk-team', '--admin-key', 'sk-admin'], simCommand('--token-rate', '0'));
		running.push(switchboard);
		const post = async (key: string) => fetch(`${switchboard.url}/keys/reload`, {method: 'POST', headers: {authorization: `Bearer ${key}`}});
		assert.equal((await post('sk-team')).status, 401);
		assert.equal((await post('sk-admin')).status, 404, 'admin, but there is no keys file to read');
		assert.equal((await fetch(`${switchboard.url}/status`, {headers: {authorization: 'Bearer sk-team'}})).status, 200);
		const models = await new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'sk-admin', maxRetries: 0}).models.list();
		assert.deepEqual(models.data.map(model => model.id), ['test-model']);
	});

	it('refuses an empty SWITCHBOARD_ADMIN_KEY', async () => {
		process.env['SWITCHBOARD_ADMIN_KEY'] = '';
		try {
			const switchboard = new SwitchboardProcess([], simCommand());
			assert.equal((await switchboard.exited).code, 2);
			assert.match(switchboard.stderr, /--admin-key \(or SWITCHBOARD_ADMIN_KEY\) must be a non-empty key/);
		} finally {
			delete process.env['SWITCHBOARD_ADMIN_KEY'];
		}
	});
});
