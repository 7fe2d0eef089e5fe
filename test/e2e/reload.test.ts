import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {startSim} from '../../source/sim/server.js';
import {saveAsEditorsDo} from '../helpers/files.js';
import {cliPath, isAlive, SwitchboardProcess, until, type LogLine} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

const sim = (...flags: string[]) => JSON.stringify([process.execPath, cliPath, 'sim', ...flags]);

function model(name: string, ...flags: string[]): string {
	return `
[[models]]
name = "${name}"
command = ${sim('--model', name, ...flags)}
`;
}

/** A model whose backend serves another name: requests are rewritten to it, whatever name they give. */
const fast = `
[[models]]
name = "fast"
command = ${sim('--model', 'org/fast', '--token-rate', '0')}
`;

function configFile(name: string, text: string): string {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-reload-')), name);
	writeFileSync(file, text);
	return file;
}

const reloads = (line: LogLine) => line.msg.startsWith('config reloaded') || line.msg.startsWith('config not reloaded');

/** Saves the file as editors do and waits for the line that says switchboard read it. */
async function edit(switchboard: SwitchboardProcess, file: string, text: string, match = reloads): Promise<LogLine> {
	const before = switchboard.count(match);
	saveAsEditorsDo(file, text);
	await until(() => switchboard.count(match) > before, 10_000, 'the reload');
	return switchboard.lines.filter(match).at(-1)!;
}

const chat = (openai: OpenAI, name: string) => openai.chat.completions.create({model: name, messages: [{role: 'user', content: 'hi'}], max_tokens: 2});

async function pidOf(switchboard: SwitchboardProcess, name: string): Promise<number> {
	const models = (await switchboard.health())['models'] as Array<{name: string; pid: number | null}>;
	const pid = models.find(entry => entry.name === name)?.pid;
	assert.equal(typeof pid, 'number', `${name} runs`);
	return pid!;
}

describe('live reload of switchboard.toml', () => {
	it('adds models, drains removed ones under a running stream, and keeps serving through a bad edit', async () => {
		const slow = model('slow', '--token-rate', '5');
		const file = configFile('switchboard.toml', `[defaults]\nidle_timeout = "10m"\n${fast}`);
		const switchboard = await SwitchboardProcess.start(['--config', file], []);
		running.push(switchboard);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		assert.equal((await chat(openai, 'any-name')).model, 'org/fast', 'the only model takes every name');

		const added = await edit(switchboard, file, `[defaults]\nidle_timeout = "10m"\n${fast}${slow}${model('extra', '--token-rate', '0')}`);
		assert.equal(added.msg, 'config reloaded: added slow, added extra');
		assert.equal((await chat(openai, 'extra')).model, 'extra', 'an added model serves at once');
		await assert.rejects(chat(openai, 'any-name'), {status: 404, message: /`any-name` does not exist\. Models here: `fast`, `slow`, `extra`/}, 'with three models, names count');

		// A stream to `slow` runs (16 tokens at 5/s) while the edit removes it.
		const stream = await openai.chat.completions.create({model: 'slow', messages: [{role: 'user', content: 'hi'}], stream: true, stream_options: {include_usage: true}});
		const chunks = stream[Symbol.asyncIterator]();
		const first = await chunks.next();
		assert.equal(first.done, false);
		const slowPid = await pidOf(switchboard, 'slow');
		const removed = await edit(switchboard, file, `[defaults]\nidle_timeout = "10m"\n${fast}${model('extra', '--token-rate', '0')}`);
		assert.equal(removed.msg, 'config reloaded: removed slow (draining)');
		await assert.rejects(chat(openai, 'slow'), (error: {status: number; message: string}) => {
			assert.equal(error.status, 404);
			assert.match(error.message, /`slow` does not exist\. Models here: `fast`, `extra`/);
			return true;
		});
		assert.deepEqual((await openai.models.list()).data.map(entry => entry.id), ['fast', 'extra']);
		assert.ok(isAlive(slowPid), 'its backend still serves the stream');
		let tokens = first.value.choices[0]?.delta.content ? 1 : 0;
		let usage;
		let finishReason;
		for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next()) {
			tokens += chunk.value.choices[0]?.delta.content ? 1 : 0;
			finishReason = chunk.value.choices[0]?.finish_reason ?? finishReason;
			usage = chunk.value.usage ?? usage;
		}

		assert.equal(finishReason, 'length', 'the stream in flight finished');
		assert.equal(tokens, usage?.completion_tokens, 'whole');
		await until(() => !isAlive(slowPid), 10_000, 'the removed backend to stop');
		await switchboard.waitFor(line => line.msg === 'removed model stopped and forgotten' && line['model'] === 'slow');

		const invalid = await edit(switchboard, file, `${fast}\n[[models]]\nname = "extra"\ncommand = ["node"]\nidle_timeout = "soon"\n`);
		assert.equal(invalid.level, 50);
		assert.match(invalid.msg, /^config not reloaded, the running configuration stays: .*switchboard\.toml: models "extra"\.idle_timeout must be a duration/);
		assert.equal((await chat(openai, 'extra')).model, 'extra', 'the running configuration still serves');
		const syntax = await edit(switchboard, file, '[[models]\nname = "fast"\n');
		assert.match(syntax.msg, /^config not reloaded.*switchboard\.toml:1:10: not valid TOML/);
		assert.equal((await chat(openai, 'fast')).model, 'org/fast');

		// WARNING applies at once: the INFO line saying so is the first it leaves out.
		const restart = await edit(switchboard, file, `[server]\nhost = "localhost"\nlog_level = "warning"\nmax_body_size = "1kb"\n\n[defaults]\nidle_timeout = "10m"\n${fast}${model('extra', '--token-rate', '0')}`, line => line.level === 40);
		assert.equal(restart.msg, 'server.host changed, which needs a restart of switchboard; until then it keeps the values it started with.');
		const requestLines = switchboard.count(line => line.msg === 'request');
		await chat(openai, 'fast');
		assert.equal(switchboard.count(line => line.msg === 'request'), requestLines, 'log_level applied live: no INFO request lines');
		await assert.rejects(openai.chat.completions.create({model: 'fast', messages: [{role: 'user', content: 'x'.repeat(2000)}]}), {status: 413}, 'max_body_size applied live');
	});

	it('answers requests held for a removed model that was loading at once, and stops its backend', async () => {
		const file = configFile('switchboard.toml', `${model('a', '--token-rate', '0')}${model('b', '--token-rate', '0')}${model('loading', '--startup-delay', '30')}`);
		const switchboard = await SwitchboardProcess.start(['--config', file], []);
		running.push(switchboard);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
		const held = chat(openai, 'loading').then(() => undefined, (error: unknown) => error as {status: number; message: string});
		await switchboard.waitFor(line => line.msg === 'model loading' && line['model'] === 'loading');
		const pid = await pidOf(switchboard, 'loading');
		await edit(switchboard, file, `${model('a', '--token-rate', '0')}${model('b', '--token-rate', '0')}`);
		const error = await held;
		assert.equal(error?.status, 404);
		assert.match(error.message, /`loading` was removed from switchboard's configuration/);
		await until(() => !isAlive(pid), 10_000, 'the loading backend to stop');
	});
});

describe('live reload of legacy backend files', () => {
	it('routes to a server added to vllm-router\'s servers.toml, at its config_reload_interval', async () => {
		const replicas = await Promise.all([0, 1].map(async () => startSim({model: 'legacy', port: 0, tokenRate: 0})));
		try {
			const servers = (...urls: string[]) => `[servers]\nservers = [\n${urls.map(url => `  {url = "${url}/v1", max_concurrent_requests = 4},\n`).join('')}]\n\n[config]\nconfig_reload_interval = 0.2\n`;
			const file = configFile('servers.toml', servers(replicas[0]!.url));
			const switchboard = await SwitchboardProcess.start(['--backends', file], []);
			running.push(switchboard);
			const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
			assert.equal((await chat(openai, 'legacy')).model, 'legacy');
			assert.equal(replicas[1]!.stats().inferenceRequests, 0);

			const started = Date.now();
			const reloaded = await edit(switchboard, file, servers(replicas[0]!.url, replicas[1]!.url));
			assert.ok(Date.now() - started < 900, 'polled every 0.2 s, not every second');
			assert.equal(reloaded.msg, 'config reloaded: changed servers (backends)');
			for (let i = 0; i < 8; i++) {
				await chat(openai, 'legacy');
			}

			assert.ok(replicas[1]!.stats().inferenceRequests > 0, 'the added server gets traffic');
		} finally {
			await Promise.all(replicas.map(async replica => replica.close()));
		}
	});
});
