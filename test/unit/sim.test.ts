import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {connect} from 'node:net';
import {after, before, describe, test} from 'node:test';
import {fileURLToPath} from 'node:url';
import {startSim, type SimOptions, type SimServer} from '../../source/sim/server.js';
import {unusedPort} from '../helpers/ports.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JSON_HEADERS = { 'content-type': 'application/json' };

async function withSim(options: Partial<SimOptions>, body: (sim: SimServer) => Promise<void>): Promise<void> {
	const sim = await startSim({ port: 0, ...options });
	try {
		await body(sim);
	} finally {
		await sim.close();
	}
}

function post(sim: SimServer, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
	return fetch(`${sim.url}${path}`, {
		method: 'POST',
		...init,
		headers: { ...JSON_HEADERS, ...init.headers },
		body: typeof body === 'string' ? body : JSON.stringify(body),
	});
}

interface Usage {
	prompt_tokens: number;
	total_tokens: number;
	completion_tokens: number;
}

interface ChatCompletion {
	id: string;
	object: string;
	created: number;
	model: string;
	choices: { finish_reason: string; message: { content: string } }[];
	usage: Usage;
}

interface ChatChunk {
	id: string;
	object: string;
	model: string;
	choices: { delta: { role?: string; content?: string }; finish_reason: string | null; stop_reason?: null }[];
	usage?: Usage;
}

interface Completion {
	id: string;
	object: string;
	choices: { text: string; finish_reason: string }[];
	usage: Usage;
}

interface Embeddings {
	object: string;
	data: { embedding: number[] }[];
	usage: Usage;
}

interface ErrorEnvelope {
	error: { message: string; type: string; param: string | null; code: number };
}

/** The simulator's bodies are checked field by field, so a declared shape is all the typing needed. */
async function readJson<T>(res: Response): Promise<T> {
	return (await res.json()) as T;
}

const chatBody = (extra: Record<string, unknown> = {}) => ({
	messages: [{ role: 'user', content: 'say something nice please' }],
	...extra,
});

/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
function ssePayloads(text: string): string[] {
	assert.ok(text.endsWith('\n\n'), 'every frame ends with a blank line');
	return text
		.slice(0, -2)
		.split('\n\n')
		.map((frame) => {
			assert.match(frame, /^data: /, 'frames are single data lines');
			return frame.slice('data: '.length);
		});
}

async function scrape(sim: SimServer): Promise<string> {
	const res = await fetch(`${sim.url}/metrics`);
	assert.equal(res.status, 200);
	return res.text();
}

/** The value of the first sample of `name` whose labels include every given pair. */
function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
	for (const line of metrics.split('\n')) {
		if (!line.startsWith(`${name}{`)) continue;
		if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
			return Number(line.slice(line.lastIndexOf(' ') + 1));
		}
	}
	return undefined;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

describe('sim: default server', () => {
	let sim: SimServer;
	before(async () => {
		sim = await startSim({ port: 0, model: 'org/sim-model', servedModelNames: ['sim-a', 'sim-b'], tokenRate: 0 });
	});
	after(() => sim.close());

	test('health, ping, version and load answer like vLLM', async () => {
		for (const [method, path] of [['GET', '/health'], ['GET', '/ping'], ['POST', '/ping']] as const) {
			const res = await fetch(`${sim.url}${path}`, { method });
			assert.equal(res.status, 200, `${method} ${path}`);
			assert.equal(await res.text(), '');
		}
		const version = (await (await fetch(`${sim.url}/version`)).json()) as { version: string };
		assert.match(version.version, /^0\.\d+\.\d+$/);
		assert.deepEqual(await (await fetch(`${sim.url}/load`)).json(), { server_load: 0 });
	});

	test('uvicorn-like headers without a keep-alive hint', async () => {
		const res = await fetch(`${sim.url}/health`);
		assert.equal(res.headers.get('server'), 'uvicorn');
		assert.equal(res.headers.get('keep-alive'), null);
	});

	test('/v1/models lists one card per served name', async () => {
		const body = (await (await fetch(`${sim.url}/v1/models`)).json()) as {
			object: string;
			data: { id: string; object: string; owned_by: string; root: string; parent: null; max_model_len: number; permission: { id: string }[] }[];
		};
		assert.equal(body.object, 'list');
		assert.deepEqual(body.data.map((card) => card.id), ['sim-a', 'sim-b']);
		const [card] = body.data;
		assert.ok(card);
		assert.equal(card.object, 'model');
		assert.equal(card.owned_by, 'vllm');
		assert.equal(card.root, 'org/sim-model');
		assert.equal(card.parent, null);
		assert.equal(card.max_model_len, 4096);
		assert.match(card.permission[0]?.id ?? '', /^modelperm-[0-9a-f]{16}$/);
	});

	test('non-streaming chat has vLLM field layout and consistent usage', async () => {
		const res = await post(sim, '/v1/chat/completions', chatBody({ model: 'sim-b', max_tokens: 1000 }));
		assert.equal(res.status, 200);
		assert.equal(res.headers.get('content-type'), 'application/json');
		const body = await readJson<ChatCompletion>(res);
		assert.deepEqual(Object.keys(body), [
			'id', 'object', 'created', 'model', 'choices', 'service_tier', 'system_fingerprint', 'usage',
			'prompt_logprobs', 'prompt_token_ids', 'kv_transfer_params',
		]);
		assert.match(body.id, /^chatcmpl-[0-9a-f]{16}$/);
		assert.equal(body.object, 'chat.completion');
		assert.equal(body.model, 'sim-a', 'the first served name is echoed whatever alias was asked for');
		assert.ok(Number.isInteger(body.created));
		const [choice] = body.choices;
		assert.ok(choice);
		assert.deepEqual(Object.keys(choice), ['index', 'message', 'logprobs', 'finish_reason', 'stop_reason', 'token_ids']);
		assert.deepEqual(Object.keys(choice.message), [
			'role', 'content', 'refusal', 'annotations', 'audio', 'function_call', 'tool_calls', 'reasoning',
		]);
		assert.equal(choice.finish_reason, 'stop');
		assert.deepEqual(Object.keys(body.usage), ['prompt_tokens', 'total_tokens', 'completion_tokens', 'prompt_tokens_details']);
		assert.equal(body.usage.prompt_tokens, 4, 'one token per prompt word');
		assert.equal(body.usage.completion_tokens, choice.message.content.split(' ').length - 1, 'one token per word');
		assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
	});

	test('max_tokens cuts the answer with finish_reason length; missing model means the served one', async () => {
		const body = await readJson<ChatCompletion>(await post(sim, '/v1/chat/completions', chatBody({ max_completion_tokens: 2 })));
		assert.equal(body.model, 'sim-a');
		assert.equal(body.choices[0]?.finish_reason, 'length');
		assert.equal(body.usage.completion_tokens, 2);
	});

	test('X-Request-Id becomes the completion id', async () => {
		const res = await post(sim, '/v1/chat/completions', chatBody(), { headers: { 'x-request-id': 'trace-42' } });
		assert.equal((await readJson<ChatCompletion>(res)).id, 'chatcmpl-trace-42');
	});

	test('streaming chat: role chunk, one chunk per token, finish chunk, [DONE], no usage by default', async () => {
		const res = await post(sim, '/v1/chat/completions', chatBody({ stream: true, max_tokens: 3 }));
		assert.equal(res.status, 200);
		assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
		const payloads = ssePayloads(await res.text());
		assert.equal(payloads.at(-1), '[DONE]');
		const chunks = payloads.slice(0, -1).map((payload) => JSON.parse(payload) as ChatChunk);
		assert.equal(chunks.length, 4, 'role chunk + 3 tokens');
		const [role, ...tokens] = chunks;
		assert.ok(role);
		assert.deepEqual(role.choices, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
		assert.equal(role.object, 'chat.completion.chunk');
		assert.ok(chunks.every((chunk) => chunk.id === role.id && chunk.model === 'sim-a'));
		for (const chunk of tokens) assert.match(chunk.choices[0]?.delta.content ?? '', /^ \S+$/);
		assert.deepEqual(tokens.map((chunk) => chunk.choices[0]?.finish_reason), [null, null, 'length']);
		assert.equal(tokens.at(-1)?.choices[0]?.stop_reason, null);
		assert.ok(chunks.every((chunk) => !('usage' in chunk)));
	});

	test('stream_options (even empty) adds one choices:[] usage chunk before [DONE]', async () => {
		const res = await post(sim, '/v1/chat/completions', chatBody({ stream: true, max_tokens: 2, stream_options: {} }));
		const payloads = ssePayloads(await res.text());
		assert.equal(payloads.at(-1), '[DONE]');
		const usageChunk = JSON.parse(payloads.at(-2) ?? '{}') as ChatChunk;
		assert.deepEqual(usageChunk.choices, []);
		assert.deepEqual(usageChunk.usage, { prompt_tokens: 4, total_tokens: 6, completion_tokens: 2 });
		const withoutUsage = payloads.slice(0, -2).map((payload) => JSON.parse(payload) as ChatChunk);
		assert.ok(withoutUsage.every((chunk) => !('usage' in chunk)));
	});

	test('completions: text_completion objects, streamed without a role chunk', async () => {
		const body = await readJson<Completion>(await post(sim, '/v1/completions', { prompt: 'once upon a time', max_tokens: 2 }));
		assert.match(body.id, /^cmpl-[0-9a-f]{16}$/);
		assert.equal(body.object, 'text_completion');
		assert.equal(body.choices[0]?.finish_reason, 'length');
		assert.deepEqual(body.usage, { prompt_tokens: 4, total_tokens: 6, completion_tokens: 2, prompt_tokens_details: null });

		const streamed = await post(sim, '/v1/completions', { prompt: 'once upon a time', max_tokens: 2, stream: true });
		const payloads = ssePayloads(await streamed.text());
		assert.equal(payloads.length, 3);
		const first = JSON.parse(payloads[0] ?? '{}') as Completion;
		assert.equal(first.object, 'text_completion');
		const firstWord = body.choices[0]?.text.split(' ').slice(0, 2).join(' ');
		assert.equal(first.choices[0]?.text, firstWord, 'same prompt, same words');
	});

	test('embeddings return unit vectors of the configured size', async () => {
		const body = await readJson<Embeddings>(await post(sim, '/v1/embeddings', { input: ['hello world', 'bye'] }));
		assert.equal(body.object, 'list');
		assert.equal(body.data.length, 2);
		const vector = body.data[0]?.embedding ?? [];
		assert.equal(vector.length, 16);
		assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-6);
		assert.deepEqual(body.usage, { prompt_tokens: 3, total_tokens: 3, completion_tokens: 0, prompt_tokens_details: null });
	});

	test('unknown model: 404 NotFoundError envelope, also for streams', async () => {
		for (const stream of [false, true]) {
			const res = await post(sim, '/v1/chat/completions', chatBody({ model: 'foo', stream }));
			assert.equal(res.status, 404);
			assert.equal(res.headers.get('content-type'), 'application/json');
			assert.deepEqual(await res.json(), {
				error: { message: 'The model `foo` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
			});
		}
	});

	test('bad JSON, schema problems and non-JSON bodies are 400 "Bad Request"', async () => {
		const badJson = await post(sim, '/v1/chat/completions', '{"messages": [');
		assert.equal(badJson.status, 400);
		const badJsonError = (await readJson<ErrorEnvelope>(badJson)).error;
		assert.equal(badJsonError.type, 'Bad Request');
		assert.equal(badJsonError.code, 400);
		assert.match(badJsonError.message, /json_invalid/);

		const notAList = await post(sim, '/v1/chat/completions', { messages: 'hi' });
		assert.equal(notAList.status, 400);
		const notAListError = (await readJson<ErrorEnvelope>(notAList)).error;
		assert.equal(notAListError.param, 'body.messages');
		assert.match(notAListError.message, /^1 validation error:\n {2}\{'type': 'list_type'/);

		const streamOptionsAlone = await post(sim, '/v1/chat/completions', chatBody({ stream_options: { include_usage: true } }));
		assert.equal((await readJson<ErrorEnvelope>(streamOptionsAlone)).error.param, 'stream_options');

		const plainText = await fetch(`${sim.url}/v1/chat/completions`, {
			method: 'POST',
			headers: { 'content-type': 'text/plain' },
			body: JSON.stringify(chatBody()),
		});
		assert.equal(plainText.status, 400);
		assert.match((await readJson<ErrorEnvelope>(plainText)).error.message, /Only 'application\/json' is allowed/);
	});

	test('context length is enforced with vLLM messages', async () => {
		const res = await post(sim, '/v1/chat/completions', chatBody({ max_tokens: 5000 }));
		assert.equal(res.status, 400);
		const { error } = await readJson<ErrorEnvelope>(res);
		assert.equal(error.type, 'BadRequestError');
		assert.equal(error.param, 'max_tokens');
		assert.match(error.message, /^'max_tokens' or 'max_completion_tokens' is too large: 5000\./);
	});

	test('unknown path 404 and wrong method 405 use FastAPI bodies', async () => {
		const missing = await fetch(`${sim.url}/v1/nothing`);
		assert.equal(missing.status, 404);
		assert.deepEqual(await missing.json(), { detail: 'Not Found' });
		const wrongMethod = await fetch(`${sim.url}/v1/chat/completions`);
		assert.equal(wrongMethod.status, 405);
		assert.equal(wrongMethod.headers.get('allow'), 'POST');
		assert.deepEqual(await wrongMethod.json(), { detail: 'Method Not Allowed' });
	});

	test('/metrics uses vLLM names, sorted labels and Python float formatting', async () => {
		const res = await fetch(`${sim.url}/metrics`);
		assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
		const metrics = await res.text();
		assert.match(metrics, /^vllm:num_requests_running\{engine="0",model_name="sim-a"\} 0\.0$/m);
		assert.match(metrics, /^vllm:kv_cache_usage_perc\{engine="0",model_name="sim-a"\} 0\.0$/m);
		assert.match(metrics, /^# TYPE vllm:prompt_tokens_total counter$/m);
		assert.match(metrics, /^vllm:prompt_tokens_created\{engine="0",model_name="sim-a"\} \d\.\d+e\+09$/m);
		assert.match(metrics, /^vllm:request_success_total\{engine="0",finished_reason="abort",model_name="sim-a"\} 0\.0$/m);
		assert.match(metrics, /^vllm:time_to_first_token_seconds_bucket\{engine="0",le="0\.001",model_name="sim-a"\} \d+\.0$/m);
		assert.match(metrics, /^vllm:e2e_request_latency_seconds_bucket\{engine="0",le="7680\.0",model_name="sim-a"\} \d+\.0$/m);
		assert.match(metrics, /^sim:requests_aborted_total\{engine="0",model_name="sim-a"\} 0\.0$/m);
		assert.ok((sample(metrics, 'vllm:prompt_tokens_total') ?? 0) > 0);
		assert.ok((sample(metrics, 'vllm:request_success_total', { finished_reason: 'length' }) ?? 0) > 0);
		assert.ok(!metrics.includes('gpu_cache_usage_perc'));
	});
});

test('sim: api key guards /v1 only, with the bare 401 body', async () => {
	await withSim({ apiKeys: ['sekrit'], tokenRate: 0 }, async (sim) => {
		const denied = await fetch(`${sim.url}/v1/models`);
		assert.equal(denied.status, 401);
		assert.deepEqual(await denied.json(), { error: 'Unauthorized' });
		const wrongKey = await fetch(`${sim.url}/v1/models`, { headers: { authorization: 'Bearer nope' } });
		assert.equal(wrongKey.status, 401);
		const allowed = await fetch(`${sim.url}/v1/models`, { headers: { authorization: 'bEaReR sekrit' } });
		assert.equal(allowed.status, 200);
		assert.equal((await fetch(`${sim.url}/health`)).status, 200);
		assert.equal((await fetch(`${sim.url}/metrics`)).status, 200);
		assert.equal((await fetch(`${sim.url}/v1/unknown`)).status, 401, 'auth runs before routing');
	});
});

test('sim: with max-num-seqs 1 a second request waits, and disconnects free the slots', async () => {
	await withSim({ maxNumSeqs: 1, stallAfter: 0 }, async (sim) => {
		const first = new AbortController();
		const second = new AbortController();
		const firstResponse = await post(sim, '/v1/chat/completions', chatBody({ stream: true }), { signal: first.signal });
		assert.equal(firstResponse.status, 200, 'a stalled stream still gets its 200 at once');
		const secondResponse = await post(sim, '/v1/chat/completions', chatBody({ stream: true }), { signal: second.signal });
		assert.equal(secondResponse.status, 200, 'a queued stream gets its 200 before any token');

		const metrics = await scrape(sim);
		assert.equal(sample(metrics, 'vllm:num_requests_running'), 1);
		assert.equal(sample(metrics, 'vllm:num_requests_waiting'), 1);
		assert.ok((sample(metrics, 'vllm:kv_cache_usage_perc') ?? 0) > 0, 'the running prompt holds KV blocks');

		first.abort();
		second.abort();
		await eventually(async () => {
			const after = await scrape(sim);
			return sample(after, 'vllm:num_requests_running') === 0 && sample(after, 'vllm:num_requests_waiting') === 0;
		}, 'both requests to leave the engine');
		assert.equal(sim.stats().aborted, 2);
	});
});

test('sim: aborting a stream counts in sim:requests_aborted_total only, and frees its slot', async () => {
	await withSim({ tokenRate: 1 }, async (sim) => {
		const controller = new AbortController();
		const res = await post(sim, '/v1/chat/completions', chatBody({ stream: true }), { signal: controller.signal });
		const reader = res.body?.getReader();
		assert.ok(reader);
		let received = '';
		while (!received.includes('"content":" ')) {
			const { value, done } = await reader.read();
			assert.ok(!done, 'the stream should still be open');
			received += new TextDecoder().decode(value);
		}
		assert.equal(sim.stats().running, 1);
		controller.abort();
		await eventually(async () => sample(await scrape(sim), 'sim:requests_aborted_total') === 1, 'the abort to be counted');
		const metrics = await scrape(sim);
		assert.equal(sample(metrics, 'vllm:num_requests_running'), 0);
		assert.equal(sample(metrics, 'vllm:request_success_total', { finished_reason: 'abort' }), 0, 'vLLM leaves aborts uncounted');
		assert.equal(sim.stats().completed, 0);
	});
});

test('sim: legacy metrics use the V0 KV gauge and no engine label', async () => {
	await withSim({ legacyMetrics: true, servedModelNames: ['old'] }, async (sim) => {
		const metrics = await scrape(sim);
		assert.match(metrics, /^vllm:gpu_cache_usage_perc\{model_name="old"\} 0\.0$/m);
		assert.ok(!metrics.includes('kv_cache_usage_perc'));
		assert.ok(!metrics.includes('engine="0"'));
	});
});

test('sim: error rate 1 answers generations with the 500 InternalServerError envelope', async () => {
	await withSim({ errorRate: 1, tokenRate: 0 }, async (sim) => {
		const res = await post(sim, '/v1/chat/completions', chatBody());
		assert.equal(res.status, 500);
		const { error } = await readJson<ErrorEnvelope>(res);
		assert.equal(error.type, 'InternalServerError');
		assert.equal(error.code, 500);
		assert.equal(error.param, null);
		assert.equal(sample(await scrape(sim), 'vllm:request_success_total', { finished_reason: 'error' }), 1);
		assert.equal(sim.stats().failed, 1);
	});
});

test('sim: exit-after crashes the engine once the Nth answer is delivered', async () => {
	let crashed = false;
	await withSim({ exitAfter: 1, tokenRate: 0, onEngineCrash: () => (crashed = true) }, async (sim) => {
		assert.equal((await post(sim, '/v1/completions', { prompt: 'hi' })).status, 200);
		await eventually(async () => crashed, 'the crash hook');
		assert.equal((await fetch(`${sim.url}/health`)).status, 503, 'a dead engine fails its health check');
		assert.equal((await post(sim, '/v1/completions', { prompt: 'hi' })).status, 500);
	});
	// Without a hook the server goes away, as a crashed vLLM does.
	await withSim({ exitAfter: 1, tokenRate: 0 }, async (sim) => {
		assert.equal((await post(sim, '/v1/completions', { prompt: 'hi' })).status, 200);
		await eventually(async () => connectionRefused(sim.port), 'the port to close');
	});
});

// --- the CLI, in a child process -------------------------------------------------------------

function connectionRefused(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(false);
		});
		socket.once('error', (error) => resolve('code' in error && error.code === 'ECONNREFUSED'));
	});
}

function spawnSim(flags: string[]) {
	const child = spawn(
		process.execPath,
		['--import', 'tsx', '-e', "import('./source/sim/cli.ts').then((m) => m.runSim(process.argv.slice(1)))", '--', ...flags],
		{ cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
	);
	let stdout = '';
	let stderr = '';
	child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
	child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

test('sim cli: refuses connections while loading, serves after "Application startup complete."', async () => {
	const port = await unusedPort();
	const sim = spawnSim(['--port', String(port), '--startup-delay', '0.5', '--served-model-name', 'cli-model']);
	try {
		await eventually(async () => sim.stdout().includes('Starting to load model'), 'the loading line', 20_000);
		const refusedWhileLoading = await connectionRefused(port);
		const readyBeforeCheck = sim.stdout().includes('Application startup complete.');
		assert.ok(!readyBeforeCheck, 'the check must run during the startup delay');
		assert.ok(refusedWhileLoading, 'connection refused while loading');

		await eventually(async () => sim.stdout().includes('Application startup complete.'), 'readiness', 20_000);
		const health = await fetch(`http://127.0.0.1:${port}/health`);
		assert.equal(health.status, 200);
		const lines = sim.stdout().trimEnd().split('\n');
		assert.match(lines.at(-1) ?? '', /^\(APIServer pid=\d+\) INFO: {5}(Application startup complete\.|127\.0\.0\.1:\d+ - "GET \/health HTTP\/1\.1" 200 OK)$/);
		assert.match(sim.stdout(), /^\(APIServer pid=\d+\) INFO \d\d-\d\d \d\d:\d\d:\d\d \[api_server\.py:\d+\] Starting vLLM server on http:\/\/127\.0\.0\.1:\d+$/m);
	} finally {
		sim.child.kill('SIGTERM');
	}
	assert.equal(await sim.exited, 0);
	assert.match(sim.stdout(), /INFO: {5}Shutting down/);
});

test('sim cli: --fail-on-startup exits 1 without ever listening', async () => {
	const sim = spawnSim(['--port', String(await unusedPort()), '--fail-on-startup']);
	assert.equal(await sim.exited, 1);
	assert.match(sim.stdout(), / ERROR .*EngineCore failed to start\./);
	assert.match(sim.stderr(), /^RuntimeError: Engine core initialization failed/m);
	assert.ok(!sim.stdout().includes('Application startup complete.'));
});

test('sim cli: a bad flag is a one-line error and exit code 2', async () => {
	const sim = spawnSim(['--port', 'eighty']);
	assert.equal(await sim.exited, 2);
	assert.equal(sim.stderr(), "switchboard sim: error: argument --port: invalid int value: 'eighty'\n");
});
