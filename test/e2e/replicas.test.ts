import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {cliPath, isAlive, SwitchboardProcess, until} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

const sim = (...flags: string[]) => JSON.stringify([process.execPath, cliPath, 'sim', '--model', 'm', ...flags]);

interface ReplicaStatus {
	index: number;
	state: string;
	pid: number | null;
	port: number | null;
}

interface ModelStatus {
	name: string;
	state: string;
	reason: string | null;
	restarts: number;
	replicas: ReplicaStatus[];
}

async function start(settings: string): Promise<{switchboard: SwitchboardProcess; openai: OpenAI; status: () => Promise<ModelStatus>}> {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-replicas-')), 'switchboard.toml');
	writeFileSync(file, `[[models]]\nname = "m"\n${settings}\n`);
	const switchboard = await SwitchboardProcess.start(['--config', file], []);
	running.push(switchboard);
	const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
	const status = async () => {
		const response = await fetch(`${switchboard.url}/status`);
		const body = await response.json() as {models: ModelStatus[]};
		return body.models[0]!;
	};

	return {switchboard, openai, status};
}

/** Requests each replica served, from switchboard's own /metrics. */
async function requestsPerBackend(switchboard: SwitchboardProcess): Promise<number[]> {
	const text = await (await fetch(`${switchboard.url}/metrics`)).text();
	return [...text.matchAll(/^switchboard_backend_requests_total\{[^}]*\} (\d+)$/gm)].map(match => Number(match[1]));
}

const ask = async (openai: OpenAI, maxTokens = 2) => openai.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'hi'}], max_tokens: maxTokens});

describe('replicas of one model', () => {
	it('replicas = 2 starts two backends on their own ports and spreads requests over them', async () => {
		const {switchboard, openai, status} = await start(`command = ${sim('--token-rate', '200')}\nreplicas = 2`);
		await ask(openai);
		await until(async () => (await status()).replicas.filter(replica => replica.state === 'ready').length === 2, 20_000, 'both replicas ready');
		const {replicas} = await status();
		assert.equal(new Set(replicas.map(replica => replica.port)).size, 2, 'each on its own port');
		const tail = async (query: string) => (await fetch(`${switchboard.url}/logs/tail?model=m${query}`)).text();
		assert.match(await tail(''), /\[replica 1\] switchboard: starting m replica 1 on port/);
		const second = await tail('&replica=1');
		assert.match(second, /^switchboard: starting m replica 1 on port/m);
		assert.doesNotMatch(second, /replica 0/);
		const missing = await fetch(`${switchboard.url}/logs/tail?model=m&replica=5`);
		assert.equal(missing.status, 400);
		assert.match((await missing.json() as {error: {message: string}}).error.message, /m has no replica "5"/);
		await Promise.all(Array.from({length: 24}, async () => ask(openai, 20)));
		// The data plane reports its counts every 250 ms.
		let served: number[] = [];
		await until(async () => {
			served = await requestsPerBackend(switchboard);
			return served.reduce((sum, count) => sum + count, 0) >= 25;
		}, 5000, 'the requests to be counted');
		assert.equal(served.length, 2);
		assert.ok(served.every(count => count >= 4), `both replicas serve (${served.join(', ')})`);
	});

	it('a killed replica costs no request and comes back on its own', async () => {
		const {openai, status} = await start(`command = ${sim('--token-rate', '100')}\nreplicas = 2`);
		await ask(openai);
		await until(async () => (await status()).replicas.filter(replica => replica.state === 'ready').length === 2, 20_000, 'both replicas ready');
		const victim = (await status()).replicas[0]!;
		const burst = Promise.all(Array.from({length: 30}, async (_, index) => {
			await new Promise(resolve => setTimeout(resolve, index * 15));
			return ask(openai, 5);
		}));
		process.kill(victim.pid!, 'SIGKILL');
		const answers = await burst;
		assert.equal(answers.length, 30, 'every request answered');
		assert.equal(isAlive(victim.pid!), false);
		await until(async () => {
			const model = await status();
			return model.restarts === 1 && model.replicas.filter(replica => replica.state === 'ready').length === 2;
		}, 20_000, 'the replica to be restarted');
		const restarted = (await status()).replicas[0]!;
		assert.notEqual(restarted.pid, victim.pid);
	});

	it('adds a replica under a load ramp and drops it once the load is gone', async () => {
		const {switchboard, openai, status} = await start([
			`command = ${sim('--token-rate', '40', '--max-num-seqs', '2')}`,
			'min_replicas = 1',
			'max_replicas = 2',
			'capacity = 2',
			'scale_up_queue = 1',
			'scale_up_after = "1s"',
			'scale_down_after = "2s"',
			'idle_timeout = 0',
		].join('\n'));
		await ask(openai);
		assert.equal((await status()).replicas.length, 1, 'one replica while the load is low');
		// About 3 s of 8 requests at a time on a replica that serves 2: the queue per replica is 6.
		const deadline = Date.now() + 3000;
		await Promise.all(Array.from({length: 8}, async () => {
			while (Date.now() < deadline) {
				await ask(openai, 20);
			}
		}));
		await until(async () => (await status()).replicas.length === 2, 10_000, 'a second replica');
		assert.ok(switchboard.count(line => /adding a replica to m/.test(String(line['line'] ?? line.msg))) <= 1);
		await until(async () => {
			const model = await status();
			return model.replicas.length === 1 && model.state === 'ready';
		}, 20_000, 'the extra replica to be stopped');
		await ask(openai);
	});
});

describe('a backend that keeps crashing', () => {
	it('is restarted until max_crashes, then refused with the reason until an operator starts it', async () => {
		// The simulated server crashes after every completed generation.
		const {openai, status, switchboard} = await start(`command = ${sim('--token-rate', '0', '--exit-after', '1')}\nmax_crashes = 2`);
		await ask(openai);
		await until(async () => (await status()).restarts === 1, 20_000, 'a restart after the first crash');
		await ask(openai);
		await until(async () => (await status()).state === 'failed', 20_000, 'the model to fail for good');
		const failed = await status();
		assert.match(failed.reason ?? '', /ended unexpectedly 2 times within 10m/);
		assert.match(failed.reason ?? '', /exited with code 1 while serving/);
		await assert.rejects(ask(openai), (error: {status: number; code: string; message: string}) => {
			assert.equal(error.status, 503);
			assert.equal(error.code, 'model_unavailable');
			assert.match(error.message, /POST \/models\/m\/start/);
			return true;
		});
		assert.equal((await status()).replicas.length, 0, 'a request does not start it again');

		const started = await fetch(`${switchboard.url}/models/m/start`, {method: 'POST'});
		assert.equal(started.status, 200);
		assert.equal((await started.json() as ModelStatus).state, 'ready');
		assert.equal((await ask(openai)).choices.length, 1);
	});
});
