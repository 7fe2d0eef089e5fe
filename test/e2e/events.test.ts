import assert from 'node:assert/strict';
import {mkdtempSync, readdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, describe, it} from 'node:test';
import OpenAI from 'openai';
import {SseReader, type ServerSentEvent} from '../helpers/sse.js';
import {cliPath, simCommand, SwitchboardProcess, until} from '../helpers/switchboard-process.js';

const key = 'sk-events';
const auth = {authorization: `Bearer ${key}`};

/** A client of GET /events, reading as it arrives. */
class Subscription {
	readonly reader = new SseReader();
	readonly #abort = new AbortController();
	readonly response: Promise<Response>;

	constructor(url: string, headers: Record<string, string> = {}) {
		this.response = fetch(url, {headers: {...auth, ...headers}, signal: this.#abort.signal});
		void this.response.then(async response => {
			const decoder = new TextDecoder();
			for await (const chunk of response.body!) {
				this.reader.push(decoder.decode(chunk as Uint8Array, {stream: true}));
			}
		}).catch(() => undefined);
	}

	get events(): ServerSentEvent[] {
		return this.reader.events;
	}

	async waitFor(match: (event: ServerSentEvent) => boolean, what: string): Promise<ServerSentEvent> {
		await until(() => this.events.some(match), 20_000, what);
		return this.events.find(match)!;
	}

	close(): void {
		this.#abort.abort();
	}
}

async function subscribers(switchboard: SwitchboardProcess): Promise<number> {
	const text = await (await fetch(`${switchboard.url}/metrics`, {headers: auth})).text();
	return Number(/^switchboard_event_subscribers (\d+)$/m.exec(text)?.[1]);
}

describe('GET /events, through the real binary', () => {
	let switchboard: SwitchboardProcess;
	let openai: OpenAI;
	const subscriptions: Subscription[] = [];
	const subscribe = (query = '', headers: Record<string, string> = {}) => {
		const subscription = new Subscription(`${switchboard.url}/events${query}`, headers);
		subscriptions.push(subscription);
		return subscription;
	};

	before(async () => {
		switchboard = await SwitchboardProcess.start(['--idle-timeout', '1', '--api-key', key], simCommand('--token-rate', '0', '--startup-delay', '0.3'));
		openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: key, maxRetries: 0});
	});

	after(async () => {
		for (const subscription of subscriptions) {
			subscription.close();
		}

		await switchboard.stop();
	});

	it('sends a snapshot, then each state change once and in order: loading, ready on a request; draining, stopped when idle', async () => {
		const stream = subscribe('?types=model.state');
		const response = await stream.response;
		assert.equal(response.status, 200);
		assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
		const snapshot = await stream.waitFor(event => event.event === 'snapshot', 'the snapshot');
		assert.deepEqual((snapshot.data['models'] as Array<{name: string; state: string}>).map(model => [model.name, model.state]), [['test-model', 'stopped']]);

		await openai.completions.create({model: 'test-model', prompt: 'hi', max_tokens: 2});
		await stream.waitFor(event => event.data['state'] === 'stopped', 'the idle stop');
		assert.deepEqual(stream.events.map(event => [event.event, event.data['state'] ?? null]), [
			['snapshot', null],
			['model.state', 'loading'],
			['model.state', 'ready'],
			['model.state', 'draining'],
			['model.state', 'stopped'],
		]);
		assert.equal(stream.events[3]!.data['reason'], 'idle for 1s');
		const ids = stream.events.map(event => Number(event.id));
		assert.ok(ids.every((id, index) => index === 0 || id > ids[index - 1]!), `ids increase: ${ids.join(', ')}`);
		stream.close();
	});

	it('replays what a client missed when it reconnects with Last-Event-ID', async () => {
		const first = subscribe();
		const snapshot = await first.waitFor(event => event.event === 'snapshot', 'the snapshot');
		first.close();
		await until(async () => await subscribers(switchboard) === 0, 20_000, 'the subscription to be dropped after the client left');

		await openai.completions.create({model: 'test-model', prompt: 'while away', max_tokens: 2});
		const again = subscribe('', {'last-event-id': snapshot.id!});
		await again.waitFor(event => event.data['state'] === 'ready', 'the missed ready');
		assert.equal(again.events[0]!.event, 'model.state', 'no snapshot: the client has its view');
		assert.equal(again.events[0]!.data['state'], 'loading');
		assert.equal(Number(again.events[0]!.id), Number(snapshot.id) + 1, 'from the first event it missed');
		assert.ok(again.events.some(event => event.event === 'log' && /starting test-model/.test(event.data['line'] as string)), 'backend log lines too');
		assert.equal(await subscribers(switchboard), 1);
		again.close();
		await until(async () => await subscribers(switchboard) === 0, 20_000, 'the subscription to be dropped');

		const stale = subscribe('', {'last-event-id': '999999'});
		await stale.waitFor(event => event.event === 'snapshot', 'a new snapshot');
		assert.equal(stale.events[0]!.event, 'events.lost');
		stale.close();
	});

	it('answers a bad filter, a bad Last-Event-ID and a missing key in OpenAI\'s envelope', async () => {
		const badType = await fetch(`${switchboard.url}/events?types=model.state,nonsense`, {headers: auth});
		assert.equal(badType.status, 400);
		const {error} = await badType.json() as {error: {message: string; code: string}};
		assert.equal(error.code, 'invalid_parameter');
		assert.match(error.message, /`types` must list event types .* \(got "model\.state,nonsense"\)/);
		const badId = await fetch(`${switchboard.url}/events`, {headers: {...auth, 'last-event-id': 'x'}});
		assert.equal(badId.status, 400);
		await badId.body?.cancel();
		const noKey = await fetch(`${switchboard.url}/events`);
		assert.equal(noKey.status, 401);
		await noKey.body?.cancel();
		assert.equal((await fetch(`${switchboard.url}/health`)).status, 200, 'switchboard serves on');
	});

	it('serves switchboard\'s own log at /logs/tail?model=switchboard and /logs/current?model=switchboard', async () => {
		const tail = await fetch(`${switchboard.url}/logs/tail?model=switchboard&lines=50`, {headers: auth});
		assert.equal(tail.status, 200);
		const text = await tail.text();
		assert.match(text, /INFO {2}\[fleet\] model ready model=test-model/);
		assert.doesNotMatch(text, /"msg"/, 'readable lines, not JSON');
		const current = await (await fetch(`${switchboard.url}/logs/current?model=switchboard`, {headers: auth})).text();
		assert.match(current, /switchboard listening on/);
		assert.ok(current.endsWith(text), 'the tail is the end of the current log');
	});
});

describe('backend log files, through the real binary', () => {
	it('keeps log_keep files per model and rotates one past log_max_size', async () => {
		const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-config-')), 'switchboard.toml');
		writeFileSync(file, `[server]
log_keep = 2
log_max_size = "1kb"

[[models]]
name = "chatty"
idle_timeout = 1
command = ${JSON.stringify([process.execPath, cliPath, 'sim', '--model', 'chatty', '--token-rate', '0'])}
`);
		const switchboard = await SwitchboardProcess.start(['--config', file], []);
		try {
			const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
			const logs = () => readdirSync(switchboard.logDir).filter(name => name.startsWith('chatty-')).sort();
			for (let start = 1; start <= 3; start++) {
				await openai.completions.create({model: 'chatty', prompt: 'hi', max_tokens: 2});
				await until(() => switchboard.count(line => line.msg === 'model stopped') === start, 20_000, `stop ${start}`);
				assert.equal(logs().filter(name => name.endsWith('.log')).length, Math.min(start, 2));
			}

			const newest = logs().filter(name => name.endsWith('.log')).at(-1)!;
			assert.ok(logs().includes(`${newest}.1`), `the sim's start-up output (over 1 kb) was rotated: ${logs().join(', ')}`);
			const current = await (await fetch(`${switchboard.url}/logs/current?model=chatty`)).text();
			assert.ok(current.startsWith(`[switchboard: this log passed log_max_size; what came before is in ${path.join(switchboard.logDir, newest)}.1]\n`), current.slice(0, 300));
			const tail = await (await fetch(`${switchboard.url}/logs/tail?model=chatty&lines=1000`)).text();
			assert.match(tail, /switchboard: the log file passed 1024 bytes; what came before is in /);
		} finally {
			await switchboard.stop();
		}
	});
});
