import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {saveAsEditorsDo} from '../helpers/files.js';
import {cliPath, SwitchboardProcess, until, type LogLine} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

/** `switchboard sim` as a command line, for commands and switch_command. */
const simLine = (...flags: string[]) => [process.execPath, cliPath, 'sim', ...flags].map(word => `'${word}'`).join(' ');

function model(name: string, ...flags: string[]): string {
	return `
[[models]]
name = "${name}"
command = ${JSON.stringify(simLine(name, ...flags))}
`;
}

function configFile(text: string): string {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-operator-')), 'switchboard.toml');
	writeFileSync(file, text);
	return file;
}

async function start(flags: string[], command: string[] = []): Promise<SwitchboardProcess> {
	const switchboard = await SwitchboardProcess.start(flags, command);
	running.push(switchboard);
	return switchboard;
}

interface Entry {
	name: string;
	state: string;
	reason: string | null;
	pin: 'on' | 'off' | null;
	group: string | null;
	ad_hoc: boolean;
	idle_timeout: number;
	idle_timeout_override: number | null;
	inflight: number;
}

interface Reply {
	status: number;
	body: Entry & {error?: {message: string; type: string; param: string | null; code: string}};
}

/** An admin call with the admin key (or `key`), its JSON answer. */
async function admin(switchboard: SwitchboardProcess, method: string, route: string, body?: unknown, key?: string): Promise<Reply> {
	const headers: Record<string, string> = {'content-type': 'application/json'};
	if (key !== undefined) {
		headers['authorization'] = `Bearer ${key}`;
	}

	const response = await fetch(`${switchboard.url}${route}`, {method, headers, body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body)});
	return {status: response.status, body: await response.json() as Reply['body']};
}

async function status(switchboard: SwitchboardProcess, key?: string): Promise<{running: boolean; model_spec: string | null; models: Entry[]}> {
	const headers: Record<string, string> = key === undefined ? {} : {authorization: `Bearer ${key}`};
	return (await fetch(`${switchboard.url}/status`, {headers})).json() as Promise<{running: boolean; model_spec: string | null; models: Entry[]}>;
}

const entry = async (switchboard: SwitchboardProcess, name: string, key?: string) => (await status(switchboard, key)).models.find(model => model.name === name)!;

const chat = async (openai: OpenAI, name: string, maxTokens = 2) => openai.chat.completions.create({model: name, messages: [{role: 'user', content: 'hi'}], max_tokens: maxTokens});

const holdingStates = new Set(['loading', 'ready', 'draining']);

/** The most models that held a backend at once, replaying the state changes switchboard logged, in order. */
function mostAtOnce(lines: LogLine[]): number {
	const states = new Map<string, string>();
	let most = 0;
	for (const line of lines) {
		if (line['component'] === 'fleet' && typeof line['state'] === 'string') {
			states.set(line['model'] as string, line['state']);
			most = Math.max(most, [...states.values()].filter(state => holdingStates.has(state)).length);
		}
	}

	return most;
}

describe('the operator\'s verbs', () => {
	it('switches under load: requests in flight on the old model finish, those waiting are served by the new one', async () => {
		const file = configFile(`[defaults]\ngroup = "gpu0"\n${model('a', '--token-rate', '20')}${model('b', '--token-rate', '0')}`);
		const switchboard = await start(['--config', file]);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		await chat(openai, 'a');

		// 20 tokens at 20/s: each runs about a second.
		const onA = Array.from({length: 6}, async () => chat(openai, 'a', 20));
		await until(async () => (await entry(switchboard, 'a')).inflight === 6, 5000, 'six requests in flight on a');
		const switched = admin(switchboard, 'POST', '/switch', {model: 'b'});
		const onB = Array.from({length: 6}, async () => chat(openai, 'b'));

		for (const completion of await Promise.all(onA)) {
			assert.equal(completion.model, 'a');
			assert.equal(completion.usage?.completion_tokens, 20, 'ran to its end');
		}

		for (const completion of await Promise.all(onB)) {
			assert.equal(completion.model, 'b');
		}

		const {status: code, body} = await switched;
		assert.equal(code, 200);
		assert.equal(body.name, 'b');
		assert.equal(body.state, 'ready');
		assert.equal((await entry(switchboard, 'a')).state, 'stopped');
		assert.match((await entry(switchboard, 'a')).reason ?? '', /stopped by the operator to switch group gpu0 to b/);
		assert.equal(mostAtOnce(switchboard.lines), 1);
	});

	it('never runs two models of a group at once under concurrent requests for both', async () => {
		const file = configFile(`[defaults]\ngroup = "gpu0"\nmin_residency = "300ms"\n${model('a', '--token-rate', '0')}${model('b', '--token-rate', '0')}`);
		const switchboard = await start(['--config', file]);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		let mostSeen = 0;
		let polling = true;
		const poller = (async () => {
			while (polling) {
				const {models} = await status(switchboard);
				mostSeen = Math.max(mostSeen, models.filter(entry => holdingStates.has(entry.state)).length);
				await new Promise(resolve => setTimeout(resolve, 20));
			}
		})();
		try {
			for (let wave = 0; wave < 3; wave++) {
				const completions = await Promise.all(['a', 'b', 'a', 'b', 'b', 'a'].map(async name => chat(openai, name)));
				assert.deepEqual(completions.map(completion => completion.model), ['a', 'b', 'a', 'b', 'b', 'a']);
			}
		} finally {
			polling = false;
			await poller;
		}

		assert.equal(mostSeen, 1, 'GET /status never showed two of them running');
		assert.equal(mostAtOnce(switchboard.lines), 1, 'nor did the state changes switchboard logged');
		const loads = switchboard.count(line => line.msg === 'model loading');
		assert.ok(loads >= 4, `they took turns (${loads} starts)`);
	});

	it('applies an idle timeout set through the API at once, and null goes back to the configured one', async () => {
		const file = configFile(`[defaults]\nidle_timeout = "10m"\n${model('x', '--token-rate', '0')}${model('y', '--token-rate', '0')}`);
		const switchboard = await start(['--config', file]);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		await chat(openai, 'x');
		const set = await admin(switchboard, 'PUT', '/models/x/idle-timeout', {idle_timeout: 1});
		assert.equal(set.status, 200);
		assert.equal(set.body.idle_timeout, 1);
		assert.equal(set.body.idle_timeout_override, 1);
		await until(async () => (await entry(switchboard, 'x')).state === 'stopped', 5000, 'x stopped when idle for 1 s');
		assert.match((await entry(switchboard, 'x')).reason ?? '', /idle for 1s/);

		const cleared = await admin(switchboard, 'PUT', '/models/x/idle-timeout', {idle_timeout: null});
		assert.equal(cleared.body.idle_timeout, 600);
		assert.equal(cleared.body.idle_timeout_override, null);
	});

	it('a stop with a pin answers the requests waiting for the model at once', async () => {
		const file = configFile(model('slow-start', '--token-rate', '0', '--startup-delay', '2'));
		const switchboard = await start(['--config', file]);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		const held = assert.rejects(chat(openai, 'slow-start'), {status: 503, code: 'model_unavailable', message: /slow-start was stopped by the operator/});
		await until(async () => (await entry(switchboard, 'slow-start')).state === 'loading', 5000, 'loading');
		const stopped = await admin(switchboard, 'POST', '/models/slow-start/stop', {pin: true});
		assert.deepEqual([stopped.status, stopped.body.state], [200, 'stopped']);
		await held;
	});

	it('keeps the operator\'s choices across a restart: pinned on starts with switchboard, pinned off answers 503, idle timeouts stay', async () => {
		const stateDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-state-'));
		const file = configFile(`${model('p', '--token-rate', '0')}${model('q', '--token-rate', '0')}${model('r', '--token-rate', '0')}`);
		const first = await start(['--config', file, '--state-dir', stateDir]);
		const pinned = await admin(first, 'POST', '/models/p/start', {pin: true});
		assert.equal(pinned.status, 200);
		assert.deepEqual([pinned.body.state, pinned.body.pin, pinned.body.idle_timeout], ['ready', 'on', 0]);
		const stopped = await admin(first, 'POST', '/models/q/stop', {pin: true});
		assert.deepEqual([stopped.status, stopped.body.state, stopped.body.pin], [200, 'stopped', 'off']);
		assert.equal((await admin(first, 'PUT', '/models/r/idle-timeout', {idle_timeout: '90s'})).status, 200);
		assert.equal((await first.stop()).code, 0);

		const second = await start(['--config', file, '--state-dir', stateDir]);
		const openai = new OpenAI({baseURL: `${second.url}/v1`, apiKey: 'none', maxRetries: 0});
		await until(async () => (await entry(second, 'p')).state === 'ready', 10_000, 'p started with switchboard, before any request');
		assert.equal((await entry(second, 'r')).idle_timeout, 90);
		await assert.rejects(chat(openai, 'q'), (error: {status: number; code: string; message: string}) => {
			assert.equal(error.status, 503);
			assert.equal(error.code, 'model_unavailable');
			assert.match(error.message, /q was stopped by the operator; POST \/models\/q\/start to start it\./);
			return true;
		});
		assert.equal((await entry(second, 'q')).state, 'stopped', 'the refused request did not wake it');

		const started = await admin(second, 'POST', '/models/q/start');
		assert.deepEqual([started.status, started.body.state, started.body.pin], [200, 'ready', null]);
		assert.equal((await chat(openai, 'q')).model, 'q');
	});

	it('POST /switch with a model_spec replaces the one model of `switchboard -- <command>`, as aic-vllm-proxy does', async () => {
		const switchboard = await start(['--switch-command', simLine('--token-rate', '0')], [process.execPath, cliPath, 'sim', '--model', 'first', '--token-rate', '0']);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		assert.equal((await chat(openai, 'first')).model, 'first');

		const switched = await admin(switchboard, 'POST', '/switch', {model_spec: 'second\n--max-model-len 2048'});
		assert.equal(switched.status, 200);
		assert.deepEqual([switched.body.name, switched.body.state, switched.body.ad_hoc], ['second', 'ready', true]);
		const after = await status(switchboard);
		assert.equal(after.running, true);
		assert.equal(after.model_spec, 'second --max-model-len 2048');
		assert.deepEqual(after.models.map(entry => [entry.name, entry.state]), [['first', 'stopped'], ['second', 'ready']]);
		assert.equal((await chat(openai, 'second')).model, 'second');
		const listed = await openai.models.list();
		assert.deepEqual(listed.data.map(card => [card.id, (card as unknown as {status: string}).status]), [['first', 'stopped'], ['second', 'ready']]);
	});

	it('keeps ad-hoc models through a config reload', async () => {
		const file = configFile(`[server]\nswitch_command = ${JSON.stringify(simLine('--token-rate', '0'))}\n${model('x', '--token-rate', '0')}`);
		const switchboard = await start(['--config', file]);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		const switched = await admin(switchboard, 'POST', '/switch?wait=false', {model_spec: 'tiny'});
		assert.equal(switched.status, 202);
		assert.equal((await chat(openai, 'tiny')).model, 'tiny', 'a held request is served once it is ready');

		const reloads = (line: LogLine) => line.msg.startsWith('config reloaded');
		saveAsEditorsDo(file, `[server]\nswitch_command = ${JSON.stringify(simLine('--token-rate', '0'))}\n${model('x', '--token-rate', '0')}${model('z', '--token-rate', '0')}`);
		await until(() => switchboard.count(reloads) > 0, 10_000, 'the reload');
		assert.equal(switchboard.lines.find(reloads)!.msg, 'config reloaded: added z');
		assert.deepEqual((await openai.models.list()).data.map(card => card.id), ['x', 'z', 'tiny']);
		assert.equal((await chat(openai, 'tiny')).model, 'tiny');

		const forgotten = await admin(switchboard, 'DELETE', '/models/tiny');
		assert.equal(forgotten.status, 200);
		await assert.rejects(chat(openai, 'tiny'), {status: 404});
	});

	it('answers bad calls with OpenAI\'s error envelope and keeps running', async () => {
		const file = configFile(`[server]\napi_keys = ["sk-user"]\nadmin_key = "sk-admin"\n${model('x', '--token-rate', '0')}
[[models]]
name = "s"
backends = [{url = "http://127.0.0.1:9"}]
`);
		const switchboard = await start(['--config', file]);
		const call = async (method: string, route: string, body?: unknown, key = 'sk-admin') => admin(switchboard, method, route, body, key);
		const refused = async (reply: Promise<Reply>, code: number, errorCode: string, message: RegExp, param: string | null = null) => {
			const {status: actual, body} = await reply;
			assert.equal(actual, code);
			assert.equal(body.error?.code, errorCode);
			assert.match(body.error?.message ?? '', message);
			assert.equal(body.error?.param, param);
		};

		await refused(call('POST', '/models/x/start', {}, 'sk-user'), 401, 'invalid_api_key', /needs the admin key/);
		await refused(admin(switchboard, 'POST', '/switch', {model: 'x'}), 401, 'invalid_api_key', /needs the admin key/);
		await refused(call('POST', '/models/nope/start'), 404, 'not_found', /`nope` does not exist/);
		await refused(call('POST', '/models/s/stop'), 409, 'conflict', /static model/);
		await refused(call('PUT', '/models/x/idle-timeout', {idle_timeout: 'soon'}), 400, 'invalid_parameter', /idle_timeout must be a duration such as 1800 \(seconds\), 90s, 30m or 2h \(got "soon"\)/, 'idle_timeout');
		await refused(call('PUT', '/models/x/idle-timeout', {}), 400, 'invalid_parameter', /got nothing/, 'idle_timeout');
		await refused(call('POST', '/models/x/start', {pin: 'yes'}), 400, 'invalid_parameter', /`pin` must be true or false/, 'pin');
		await refused(call('POST', '/models/x/start', {pinned: true}), 400, 'invalid_parameter', /Unknown field `pinned`.*it takes `pin`/, 'pinned');
		await refused(call('POST', '/switch', '{"model": '), 400, 'invalid_json', /not valid JSON/);
		await refused(call('POST', '/switch', {}), 400, 'invalid_parameter', /Give either `model`.* or `model_spec`/, 'model');
		await refused(call('POST', '/switch', {model_spec: '--dtype half'}), 400, 'invalid_parameter', /model_spec must be a model followed by its server flags/, 'model_spec');
		await refused(call('POST', '/switch', {model_spec: 'x --dtype half'}), 409, 'conflict', /x is a configured model/);
		await refused(call('POST', '/models/x/start?wait=maybe'), 400, 'invalid_parameter', /`wait` must be true or false/, 'wait');

		const accepted = await call('POST', '/models/x/start?wait=false');
		assert.equal(accepted.status, 202);
		await until(async () => (await entry(switchboard, 'x', 'sk-user')).state === 'ready', 10_000, 'x ready after a start that did not wait');
		assert.equal((await switchboard.health())['status'], 'healthy');
	});
});
