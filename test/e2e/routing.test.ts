import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {createServer, type AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {parseMetrics} from '../../source/metrics/prometheus-text.js';
import {startSim, type SimServer} from '../../source/sim/server.js';
import {cliPath, SwitchboardProcess, until} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];
const sims: SimServer[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
	await Promise.all(sims.map(async sim => sim.close()));
});

async function start(config: string): Promise<{switchboard: SwitchboardProcess; openai: OpenAI}> {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-config-')), 'switchboard.toml');
	writeFileSync(file, config);
	const switchboard = await SwitchboardProcess.start(['--config', file], []);
	running.push(switchboard);
	return {switchboard, openai: new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0})};
}

async function replicas(count: number, model: string, tokenRate = 0): Promise<SimServer[]> {
	const started = await Promise.all(Array.from({length: count}, async () => startSim({model, port: 0, tokenRate, maxNumSeqs: 64})));
	sims.push(...started);
	return started;
}

async function getJson<T>(url: string): Promise<T> {
	const response = await fetch(url);
	assert.equal(response.status, 200, `${url} answered ${response.status}`);
	return response.json() as Promise<T>;
}

interface LoadStats {
	servers: Array<{url: string; current_load: number; max_capacity: number; utilization_percent: number; status: boolean; detailed_metrics: Record<string, unknown>}>;
	summary: {total_servers: number; healthy_servers: number; total_capacity: number};
}

const ask = (openai: OpenAI, model: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}, headers: Record<string, string> = {}) =>
	openai.chat.completions.create({model, messages: [{role: 'user', content: 'hi'}], max_tokens: 2, ...extra}, {headers});

describe('load-aware routing', () => {
	it('least-load reads each backend\'s /metrics: a replica busy with traffic from elsewhere gets less', async () => {
		const [busy, idle] = await replicas(2, 'm', 5);
		const {switchboard, openai} = await start(`
[server]
health_interval = "200ms"
[[models]]
name = "m"
backends = [{url = "${busy!.url}", capacity = 8}, {url = "${idle!.url}", capacity = 8}]
`);
		// Six long generations sent to one replica directly, not through switchboard.
		const direct = new OpenAI({baseURL: `${busy!.url}/v1`, apiKey: 'none', maxRetries: 0});
		const outside = Array.from({length: 6}, async () => direct.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'hi'}], max_tokens: 40}));
		await until(async () => {
			const stats = await getJson<LoadStats>(`${switchboard.url}/load-stats`);
			return stats.servers.find(server => server.url === busy!.url)?.current_load === 6;
		}, 10_000, 'the scrape to show the outside load');

		const before = busy!.stats().inferenceRequests;
		await Promise.all(Array.from({length: 6}, async () => ask(openai, 'm')));
		assert.equal(busy!.stats().inferenceRequests - before, 0, 'the busy replica got none of the six');
		assert.equal(idle!.stats().inferenceRequests, 6);
		await Promise.all(outside);
	});

	it('marks a dead replica unhealthy after failed checks, and healthy again when it is back', async () => {
		const [first, second] = await replicas(2, 'm');
		const {switchboard, openai} = await start(`
[server]
health_interval = "200ms"
unhealthy_after = 2
[[models]]
name = "m"
backends = [{url = "${first!.url}"}, {url = "${second!.url}"}]
`);
		const port = Number(new URL(second!.url).port);
		const healthOf = async () => (await getJson<{backends: Array<{url: string; healthy: boolean; last_error: string | null}>}>(`${switchboard.url}/_backends`)).backends.find(backend => backend.url === second!.url)!;
		await second!.close();
		await until(async () => !(await healthOf()).healthy, 10_000, 'the dead replica to be unhealthy');
		assert.match((await healthOf()).last_error ?? '', /ECONNREFUSED/);
		await until(() => switchboard.count(line => line.msg === 'backend unhealthy after 2 failed checks') === 1, 5000, 'the log line');
		// Requests go to the live one only: none is retried, none fails.
		await Promise.all(Array.from({length: 10}, async () => ask(openai, 'm')));
		const stats = await getJson<LoadStats>(`${switchboard.url}/load-stats`);
		assert.equal(stats.summary.healthy_servers, 1);

		const revived = await startSim({model: 'm', port, tokenRate: 0});
		sims.push(revived);
		await until(async () => (await healthOf()).healthy, 10_000, 'the replica to be healthy again');
		await until(() => switchboard.count(line => line.msg === 'backend healthy again') === 1, 5000, 'the log line');
		await Promise.all(Array.from({length: 10}, async () => ask(openai, 'm')));
		assert.ok(revived.stats().inferenceRequests > 0, 'the revived replica serves again');
	});

	it('session routing keeps a session on one replica (X-Session-ID or the user field)', async () => {
		const three = await replicas(3, 'm');
		const {switchboard, openai} = await start(`
[[models]]
name = "m"
routing = "session"
backends = [${three.map(sim => `{url = "${sim.url}"}`).join(', ')}]
`);
		const servedBy = async (send: () => Promise<unknown>) => {
			const before = three.map(sim => sim.stats().inferenceRequests);
			await send();
			return three.findIndex((sim, index) => sim.stats().inferenceRequests > before[index]!);
		};

		const byHeader = new Set<number>();
		const byUser = new Set<number>();
		for (let index = 0; index < 8; index++) {
			byHeader.add(await servedBy(async () => ask(openai, 'm', {}, {'x-session-id': 'conversation-1'})));
			byUser.add(await servedBy(async () => ask(openai, 'm', {user: 'bob'})));
		}

		assert.equal(byHeader.size, 1);
		assert.equal(byUser.size, 1);
		const sessions = new Set<number>();
		for (let index = 0; index < 24; index++) {
			sessions.add(await servedBy(async () => ask(openai, 'm', {}, {'x-session-id': `s-${index}`})));
		}

		assert.equal(sessions.size, 3, 'different sessions spread over the replicas');
		assert.ok(switchboard.url);
	});
});

describe('failover', () => {
	it('a backend that drops the connection, then a refused one: the request ends with 502, it does not hang', async () => {
		// Reads the request, then closes the socket without a byte of answer (a server dying mid-prefill).
		const dropping = createServer(socket => {
			socket.once('data', () => socket.destroy());
		});
		await new Promise<void>(resolve => dropping.listen(0, '127.0.0.1', resolve));
		const closed = createServer();
		await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve));
		const closedPort = (closed.address() as AddressInfo).port;
		await new Promise(resolve => closed.close(resolve));
		try {
			const {switchboard} = await start(`
[server]
health_checks = false
[[models]]
name = "m"
routing = "round-robin"
retry_backoff = 0
backends = [{url = "http://127.0.0.1:${(dropping.address() as AddressInfo).port}"}, {url = "http://127.0.0.1:${closedPort}"}]
`);
			const statuses = await Promise.all(Array.from({length: 4}, async () => {
				const response = await fetch(`${switchboard.url}/v1/chat/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"model":"m","messages":[]}', signal: AbortSignal.timeout(5000)});
				await response.text();
				return response.status;
			}));
			assert.deepEqual(statuses, [502, 502, 502, 502]);
			await until(async () => (await getJson<LoadStats>(`${switchboard.url}/load-stats`)).servers.every(server => server.detailed_metrics['in_flight'] === 0), 5000, 'nothing left in flight');
		} finally {
			dropping.close();
		}
	});
});

describe('aliases, on_cold and the monitoring endpoints', () => {
	it('an alias reaches its model; on_cold = "reject" answers 503 at once and starts the model anyway', async () => {
		const command = JSON.stringify([process.execPath, cliPath, 'sim', '--model', 'org/model-a', '--token-rate', '0', '--startup-delay', '0.5']);
		const {switchboard, openai} = await start(`
[[models]]
name = "a"
aliases = ["default"]
command = ${command}
on_cold = "reject"
`);
		const listed = await openai.models.list();
		assert.deepEqual(listed.data.map(model => model.id), ['a', 'default']);
		await assert.rejects(ask(openai, 'default'), (error: {status: number; code: string; headers: Headers}) => {
			assert.equal(error.status, 503);
			assert.equal(error.code, 'model_not_ready');
			assert.ok(Number(error.headers.get('retry-after')) > 0);
			return true;
		});
		await until(async () => (await getJson<{state: string}>(`${switchboard.url}/health`)).state === 'ready', 20_000, 'the model to start');
		const answer = await ask(openai, 'default');
		assert.equal(answer.model, 'org/model-a', 'the alias became the name the backend serves');
	});

	it('/metrics shows held requests as queued only until their model is ready', async () => {
		const command = JSON.stringify([process.execPath, cliPath, 'sim', '--model', 'slow', '--token-rate', '5', '--startup-delay', '0.5']);
		const {switchboard, openai} = await start(`
[[models]]
name = "slow"
command = ${command}
`);
		const gauge = async (name: string) => {
			const samples = parseMetrics(await (await fetch(`${switchboard.url}/metrics`)).text(), new Set([name]));
			return samples.get(name)?.[0]?.value;
		};

		const generation = ask(openai, 'slow', {max_tokens: 30});
		await until(async () => await gauge('switchboard_requests_queued') === 1, 5000, 'the request to be counted as held');
		await until(async () => (await getJson<{state: string}>(`${switchboard.url}/health`)).state === 'ready', 20_000, 'the model to start');
		await until(async () => await gauge('switchboard_requests_queued') === 0, 2000, 'the held request to count as sent, while it still runs');
		assert.equal(await gauge('switchboard_requests_in_flight'), 1);
		await generation;
	});

	it('/load-stats, /_backends and /metrics describe every backend', async () => {
		const two = await replicas(2, 'm');
		const {switchboard, openai} = await start(`
[server]
health_interval = "200ms"
[[models]]
name = "m"
backends = [{url = "${two[0]!.url}", capacity = 4}, {url = "${two[1]!.url}", capacity = 12}]
`);
		await Promise.all(Array.from({length: 20}, async () => ask(openai, 'm')));
		const stats = await getJson<LoadStats>(`${switchboard.url}/load-stats`);
		assert.deepEqual(stats.servers.map(server => [server.url, server.max_capacity, server.status]), [[two[0]!.url, 4, true], [two[1]!.url, 12, true]]);
		assert.equal(stats.summary.total_capacity, 16);
		for (const key of ['num_requests_running', 'num_requests_waiting', 'gpu_cache_usage_perc', 'in_flight', 'requests_per_second', 'latency_p50_ms']) {
			assert.ok(key in stats.servers[0]!.detailed_metrics, `detailed_metrics.${key}`);
		}

		await until(async () => {
			const response = await fetch(`${switchboard.url}/metrics`);
			const text = await response.text();
			const samples = parseMetrics(text, new Set(['switchboard_backend_requests_total', 'switchboard_requests_total', 'switchboard_backend_request_duration_seconds_count']));
			const sum = (name: string) => (samples.get(name) ?? []).reduce((total, sample) => total + sample.value, 0);
			return response.headers.get('content-type')!.startsWith('text/plain')
				&& sum('switchboard_backend_requests_total') === 20
				&& sum('switchboard_requests_total') === 20
				&& sum('switchboard_backend_request_duration_seconds_count') === 20;
		}, 5000, '/metrics to count the 20 requests');
	});
});
