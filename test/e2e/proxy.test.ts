import assert from 'node:assert/strict';
import {connect} from 'node:net';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {startSim} from '../../source/sim/server.js';
import {isAlive, SwitchboardProcess, simCommand, until} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

async function start(flags: string[], command: string[]): Promise<SwitchboardProcess> {
	const switchboard = await SwitchboardProcess.start(flags, command);
	running.push(switchboard);
	return switchboard;
}

function client(switchboard: SwitchboardProcess, apiKey = 'none'): OpenAI {
	return new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey, maxRetries: 0});
}

const loadings = (switchboard: SwitchboardProcess) => switchboard.count(line => line.msg === 'model loading');

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

describe('one model on demand, through the real binary', () => {
	it('starts the backend on the first request and serves chat, streaming and embeddings', async () => {
		const switchboard = await start([], simCommand('--startup-delay', '0.5', '--token-rate', '0'));
		assert.equal((await switchboard.health())['llm_running'], false);
		const openai = client(switchboard);

		const completion = await openai.chat.completions.create({model: 'test-model', messages: [{role: 'user', content: 'Hello there'}], max_tokens: 5});
		assert.equal(completion.object, 'chat.completion');
		assert.equal(completion.model, 'test-model');
		assert.ok(completion.choices[0]!.message.content!.length > 0);
		assert.equal(completion.usage!.completion_tokens, 5);

		const stream = await openai.chat.completions.create({
			model: 'test-model', messages: [{role: 'user', content: 'Hi'}], max_tokens: 8, stream: true, stream_options: {include_usage: true},
		});
		let text = '';
		let usage;
		for await (const chunk of stream) {
			text += chunk.choices[0]?.delta.content ?? '';
			usage = chunk.usage ?? usage;
		}

		assert.ok(text.length > 0);
		assert.equal(usage?.completion_tokens, 8);

		const embedding = await openai.embeddings.create({model: 'test-model', input: 'a sentence'});
		assert.ok(embedding.data[0]!.embedding.length > 0);

		const health = await switchboard.health();
		assert.equal(health['status'], 'healthy');
		assert.equal(health['llm_running'], true);
		assert.equal(typeof health['target_port'], 'number');
		assert.equal(typeof health['last_request'], 'number');
		assert.equal(health['state'], 'ready');
		assert.equal(loadings(switchboard), 1);
		await until(() => switchboard.count(line => line.msg === 'request' && line['status'] === 200) === 3, 5000, 'one JSON log line per request');
	});

	it('holds 50 concurrent requests through a cold start and starts the backend once', async () => {
		const switchboard = await start([], simCommand('--startup-delay', '1', '--token-rate', '200', '--max-num-seqs', '64'));
		const openai = client(switchboard);
		const results = await Promise.allSettled(Array.from({length: 50}, async (_, index) => {
			if (index % 2 === 0) {
				return openai.chat.completions.create({model: 'test-model', messages: [{role: 'user', content: `n${index}`}], max_tokens: 4});
			}

			const stream = await openai.chat.completions.create({model: 'test-model', messages: [{role: 'user', content: `n${index}`}], max_tokens: 4, stream: true});
			let content = '';
			for await (const chunk of stream) {
				content += chunk.choices[0]?.delta.content ?? '';
			}

			return content;
		}));
		const failures = results.filter(result => result.status === 'rejected');
		assert.equal(failures.length, 0, JSON.stringify(failures.slice(0, 3)));
		assert.equal(loadings(switchboard), 1);
	});

	it('stops the backend when idle and starts it again on the next request', async () => {
		const switchboard = await start(['--idle-timeout', '1'], simCommand('--token-rate', '0'));
		const openai = client(switchboard);
		await openai.completions.create({model: 'test-model', prompt: 'one', max_tokens: 2});
		const {pid} = await switchboard.health() as {pid: number};
		await switchboard.waitFor(line => line.msg === 'model stopped');
		assert.equal(isAlive(pid), false, 'the idle backend process is gone');
		assert.equal((await switchboard.health())['llm_running'], false);
		const again = await openai.completions.create({model: 'test-model', prompt: 'two', max_tokens: 2});
		assert.equal(again.choices.length, 1);
		assert.equal(loadings(switchboard), 2);
	});

	it('fails waiting requests as soon as the backend dies while loading, with its last log lines', async () => {
		const switchboard = await start(['--startup-timeout', '10m'], simCommand('--startup-delay', '0.3', '--fail-on-startup'));
		const startedAt = Date.now();
		const responses = await Promise.all(Array.from({length: 3}, async () => fetch(`${switchboard.url}/v1/chat/completions`, {
			method: 'POST',
			headers: {'content-type': 'application/json'},
			body: JSON.stringify({model: 'test-model', messages: [{role: 'user', content: 'hi'}]}),
		})));
		const elapsed = Date.now() - startedAt;
		for (const response of responses) {
			assert.equal(response.status, 503);
			assert.ok(response.headers.get('retry-after'));
			const body = await response.json() as {error: {message: string; code: string}};
			assert.equal(body.error.code, 'model_start_failed');
			assert.match(body.error.message, /exited with code 1 while loading/);
			assert.match(body.error.message, /Last log lines/);
		}

		assert.ok(elapsed < 60_000, `failed after ${elapsed} ms, long before the 10 min startup timeout`);
		assert.equal((await switchboard.health())['state'], 'failed');
	});

	it('answers model lists itself: polling them neither wakes a model nor keeps it up', async () => {
		const switchboard = await start(['--idle-timeout', '1'], simCommand('--token-rate', '0'));
		const models = async (path: string) => fetch(`${switchboard.url}${path}`).then(async response => [response.status, await response.json()] as const);
		assert.equal((await models('/v1/models?limit=5'))[0], 200);
		const [status, card] = await models('/v1/models/test-model');
		assert.equal(status, 200);
		assert.deepEqual([(card as {id: string}).id, (card as {status: string}).status], ['test-model', 'stopped']);
		assert.equal((await models('/v1/models/nope'))[0], 404);
		assert.equal(loadings(switchboard), 0);

		await client(switchboard).completions.create({model: 'test-model', prompt: 'x', max_tokens: 1});
		const poller = setInterval(() => {
			void fetch(`${switchboard.url}/v1/models`).then(async response => response.text());
		}, 200);
		try {
			await switchboard.waitFor(line => line.msg === 'model stopped', 10_000);
		} finally {
			clearInterval(poller);
		}
	});

	it('aborts the upstream generation when the client goes away', async () => {
		const switchboard = await start([], simCommand('--token-rate', '20'));
		const controller = new AbortController();
		const response = await fetch(`${switchboard.url}/v1/chat/completions`, {
			method: 'POST',
			headers: {'content-type': 'application/json'},
			body: JSON.stringify({model: 'test-model', stream: true, max_tokens: 500, messages: [{role: 'user', content: 'hi'}]}),
			signal: controller.signal,
		});
		const reader = response.body!.getReader();
		await reader.read();
		controller.abort();
		const backend = (await (await fetch(`${switchboard.url}/status`)).json() as {vllm_base: string}).vllm_base;
		await until(async () => {
			const metrics = await (await fetch(`${backend}/metrics`)).text();
			return /^sim:requests_aborted_total\S* 1(\.0)?$/m.test(metrics) && /^vllm:num_requests_running\S* 0(\.0)?$/m.test(metrics);
		}, 10_000, 'the simulator to see the abort');
		await switchboard.waitFor(line => line.msg === 'request' && line['status'] === 499);
	});

	it('ends a stream cleanly when the backend dies in the middle of it', async () => {
		const switchboard = await start([], simCommand('--token-rate', '20'));
		const openai = client(switchboard);
		const stream = await openai.chat.completions.create({model: 'test-model', messages: [{role: 'user', content: 'hi'}], max_tokens: 1000, stream: true});
		const {pid} = await switchboard.health() as {pid: number};
		let chunks = 0;
		await assert.rejects(async () => {
			for await (const _chunk of stream) {
				if (++chunks === 3) {
					process.kill(pid, 'SIGKILL');
				}
			}
		}, /closed the stream/);
		assert.ok(chunks >= 3);
		// The crash is noticed and the backend restarted; the next request waits for it.
		await switchboard.waitFor(line => line.msg === 'backend crashed; restarting it');
		const completion = await openai.chat.completions.create({model: 'test-model', messages: [{role: 'user', content: 'again'}], max_tokens: 2});
		assert.equal(completion.choices.length, 1);
	});

	it('leaves no process behind on SIGTERM', async () => {
		const switchboard = await start([], simCommand('--token-rate', '0'));
		await client(switchboard).completions.create({model: 'test-model', prompt: 'x', max_tokens: 1});
		const {pid} = await switchboard.health() as {pid: number};
		assert.equal(isAlive(pid), true);
		const {code} = await switchboard.stop();
		assert.equal(code, 0);
		assert.equal(isAlive(pid), false);
	});

	it('leaves no process behind when switchboard itself is killed with SIGKILL', async () => {
		const switchboard = await start([], simCommand('--token-rate', '0'));
		await client(switchboard).completions.create({model: 'test-model', prompt: 'x', max_tokens: 1});
		const {pid} = await switchboard.health() as {pid: number};
		switchboard.child.kill('SIGKILL');
		await switchboard.exited;
		await until(() => !isAlive(pid), 15_000, 'the reaper to end the orphaned backend');
	});
});

describe('bad input gets a clear error and switchboard keeps running', () => {
	it('answers bad requests in OpenAI\'s envelope', async () => {
		const switchboard = await start(['--api-key', 'sekret', '--max-body-size', '1kb', '--max-queue', '2', '--max-wait', '1s'], simCommand('--startup-delay', '30'));
		const post = async (body: string, headers: Record<string, string> = {}) => fetch(`${switchboard.url}/v1/chat/completions`, {
			method: 'POST',
			headers: {'content-type': 'application/json', authorization: 'Bearer sekret', ...headers},
			body,
		});
		const expectError = async (response: Response, status: number, code: string) => {
			assert.equal(response.status, status);
			const body = await response.json() as {error: {message: string; type: string; code: string}};
			assert.equal(body.error.code, code);
			assert.ok(body.error.message.length > 10);
			assert.ok(body.error.type);
		};

		await expectError(await post('{"model": "test-model", "messages": ['), 400, 'invalid_json');
		await expectError(await post(JSON.stringify({model: 'test-model', pad: 'x'.repeat(5000)})), 413, 'body_too_large');
		await expectError(await post('{}', {authorization: 'Bearer wrong'}), 401, 'invalid_api_key');
		await expectError(await post('{}', {authorization: ''}), 401, 'invalid_api_key');
		await expectError(await fetch(`${switchboard.url}/nope`), 404, 'not_found');
		await assert.rejects(client(switchboard, 'wrong').models.list(), /401/);

		// The model takes 30 s to load: two requests wait, the third finds the queue full,
		// and the waiting ones give up after --max-wait.
		const held = [post('{"model": "test-model", "messages": []}'), post('{"model": "test-model", "messages": []}')];
		await until(async () => ((await switchboard.health())['state']) === 'loading', 5000, 'loading');
		const full = await post('{"model": "test-model", "messages": []}');
		assert.ok(full.headers.get('retry-after'));
		await expectError(full, 429, 'queue_full');
		for (const response of await Promise.all(held)) {
			assert.ok(response.headers.get('retry-after'));
			await expectError(response, 503, 'model_not_ready');
		}

		assert.equal((await switchboard.health())['status'], 'healthy');
		const status = await fetch(`${switchboard.url}/status`);
		assert.equal(status.status, 401, 'admin routes other than /health need the key');
		const tail = await fetch(`${switchboard.url}/logs/tail?lines=5`, {headers: {authorization: 'Bearer sekret'}});
		assert.equal(tail.status, 200);
		assert.match(await tail.text(), /switchboard: starting test-model/);
	});

	it('survives hostile and unusual requests', async () => {
		const switchboard = await start(['--max-body-size', '64kb'], simCommand('--token-rate', '0'));
		const listed = await (await fetch(`${switchboard.url}/v1/models`)).json() as {data: Array<{id: string; status: string}>};
		assert.deepEqual(listed.data.map(model => [model.id, model.status]), [['test-model', 'stopped']]);
		assert.equal(loadings(switchboard), 0, 'listing models wakes nothing');
		assert.equal((await fetch(`${switchboard.url}/health`, {method: 'HEAD'})).status, 200);

		const raw = async (request: string) => new Promise<string>((resolve, reject) => {
			const socket = connect(Number(new URL(switchboard.url).port), '127.0.0.1', () => socket.write(request));
			let answer = '';
			socket.on('data', chunk => answer += chunk.toString());
			socket.on('close', () => resolve(answer));
			socket.on('error', reject);
		});
		assert.match(await raw('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404/);

		// curl sends `Expect: 100-continue` for large bodies; undici must not see it.
		const big = JSON.stringify({model: 'test-model', prompt: 'word '.repeat(2000), max_tokens: 2});
		const answer = await raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${big}`);
		assert.match(answer, /HTTP\/1\.1 200 OK/);
		assert.match(answer, /"object":"text_completion"/);
		assert.equal((await switchboard.health())['status'], 'healthy');
	});

	it('streams uploads through and holds chunked ones to the size limit', async () => {
		// Any OpenAI-compatible command will do: this one reads the whole body, then says how big it was.
		const counter = `require('node:http').createServer((req, res) => {
			let size = 0;
			req.on('data', chunk => size += chunk.length).on('end', () => res.end(JSON.stringify({size})));
		}).listen(Number(process.argv[1]), '127.0.0.1');`;
		const switchboard = await start(['--max-body-size', '64kb'], [process.execPath, '-e', counter, '{port}']);
		const upload = async (chunks: number) => fetch(`${switchboard.url}/v1/audio/transcriptions`, {
			method: 'POST',
			headers: {'content-type': 'application/octet-stream'},
			body: new ReadableStream({
				start(controller) {
					for (let i = 0; i < chunks; i++) {
						controller.enqueue(new Uint8Array(16 * 1024));
					}

					controller.close();
				},
			}),
			duplex: 'half',
		} as RequestInit);
		const small = await upload(2);
		assert.equal(small.status, 200);
		assert.deepEqual(await small.json(), {size: 32 * 1024});
		const large = await upload(20);
		assert.equal(large.status, 413);
		assert.equal((await large.json() as {error: {code: string}}).error.code, 'body_too_large');
	});

	it('wakes the model even when the hold queue takes nobody', async () => {
		const switchboard = await start(['--max-queue', '0'], simCommand('--token-rate', '0', '--startup-delay', '0.3'));
		const first = await fetch(`${switchboard.url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"prompt": "x"}'});
		assert.equal(first.status, 429);
		await switchboard.waitFor(line => line.msg === 'model ready');
		const second = await fetch(`${switchboard.url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"prompt": "x"}'});
		assert.equal(second.status, 200);
	});

	it('never mistakes another server on the backend\'s port for the backend', async () => {
		const foreign = await startSim({model: 'someone-elses-model', port: 0});
		try {
			const switchboard = await start(['--target-port', String(foreign.port)], simCommand('--startup-delay', '0.5'));
			const response = await fetch(`${switchboard.url}/v1/chat/completions`, {
				method: 'POST',
				headers: {'content-type': 'application/json'},
				body: JSON.stringify({model: 'test-model', messages: [{role: 'user', content: 'hi'}]}),
			});
			assert.equal(response.status, 503);
			const body = await response.json() as {error: {message: string}};
			assert.match(body.error.message, /while loading/);
			assert.match(body.error.message, /address already in use|EADDRINUSE/i);
			assert.equal(foreign.stats().inferenceRequests, 0, 'nothing was sent to the foreign server');
		} finally {
			await foreign.close();
		}
	});

	it('refuses a log directory it cannot write', async () => {
		const switchboard = new SwitchboardProcess(['--log-dir', '/dev/null/logs'], simCommand());
		assert.equal((await switchboard.exited).code, 2);
		assert.match(switchboard.stderr, /log directory \/dev\/null\/logs cannot be written/);
	});

	it('refuses to start with a command that does not exist', async () => {
		const switchboard = new SwitchboardProcess([], ['no-such-server-binary', '--model', 'x']);
		const {code} = await switchboard.exited;
		assert.equal(code, 2);
		assert.match(switchboard.stderr, /Cannot run `no-such-server-binary`: no such executable on PATH/);
	});

	it('refuses SLURM flags without --use-slurm instead of ignoring them', async () => {
		const switchboard = new SwitchboardProcess(['--loopback-user', 'u', '--loopback-host', 'h'], simCommand());
		const {code} = await switchboard.exited;
		assert.equal(code, 2);
		assert.match(switchboard.stderr, /--loopback-user needs --use-slurm/);
	});

	it('rejects an unknown flag and a bad value with a readable message', async () => {
		const unknown = new SwitchboardProcess(['--idle-timout', '5'], simCommand());
		assert.equal((await unknown.exited).code, 2);
		assert.match(unknown.stderr, /Unknown flag/i);
		const badValue = new SwitchboardProcess(['--idle-timeout', 'soon'], simCommand());
		assert.equal((await badValue.exited).code, 2);
		assert.match(badValue.stderr, /--idle-timeout must be a duration/);
	});
});
