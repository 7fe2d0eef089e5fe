import assert from 'node:assert/strict';
import {mkdtempSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, describe, it} from 'node:test';
import OpenAI from 'openai';
import {startSim} from '../../source/sim/server.js';
import {cliPath, SwitchboardProcess} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

function configFile(text: string): string {
	const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-config-')), 'switchboard.toml');
	writeFileSync(file, text);
	return file;
}

const sim = (...flags: string[]) => JSON.stringify([process.execPath, cliPath, 'sim', ...flags]);

describe('a fleet from switchboard.toml', () => {
	it('routes by model, starts each model on its own first request, and rewrites served names', async () => {
		const file = configFile(`
[defaults]
idle_timeout = "10m"

[[models]]
name = "small"
command = ${sim('--model', 'small', '--token-rate', '0')}

[[models]]
name = "large"
command = ${sim('--model', 'org/large-v2', '--token-rate', '0', '--startup-delay', '0.3')}
served_name = "org/large-v2"
`);
		const switchboard = await SwitchboardProcess.start(['--config', file], []);
		running.push(switchboard);
		const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});

		const cold = await openai.models.list();
		assert.deepEqual(cold.data.map(model => [model.id, (model as unknown as {status: string}).status]), [['small', 'stopped'], ['large', 'stopped']]);

		const small = await openai.chat.completions.create({model: 'small', messages: [{role: 'user', content: 'hi'}], max_tokens: 2});
		assert.equal(small.model, 'small');
		const loading = (name: string) => switchboard.count(line => line.msg === 'model loading' && line['model'] === name);
		assert.equal(loading('small'), 1);
		assert.equal(loading('large'), 0, 'the other model stays stopped');

		const large = await openai.chat.completions.create({model: 'large', messages: [{role: 'user', content: 'hi'}], max_tokens: 2});
		assert.equal(large.model, 'org/large-v2', 'the body was rewritten to the name the backend serves');
		assert.equal(loading('large'), 1);

		await assert.rejects(openai.chat.completions.create({model: 'medium', messages: [{role: 'user', content: 'hi'}]}), (error: {status: number; message: string}) => {
			assert.equal(error.status, 404);
			assert.match(error.message, /`medium` does not exist\. Models here: `small`, `large`/);
			return true;
		});
		const missing = await fetch(`${switchboard.url}/v1/chat/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"messages": []}'});
		assert.equal(missing.status, 400);
	});

	it('refuses a broken file with its name, the key and what is expected', async () => {
		const file = configFile(`
[[models]]
name = "a"
command = ["node"]
idle_timeout = "soon"
`);
		const switchboard = new SwitchboardProcess(['--config', file], []);
		assert.equal((await switchboard.exited).code, 2);
		assert.match(switchboard.stderr, /switchboard\.toml: models "a"\.idle_timeout must be a duration/);
	});

	it('says which flags belong in the file', async () => {
		const file = configFile(`
[[models]]
name = "a"
command = ["node"]
`);
		const switchboard = new SwitchboardProcess(['--config', file, '--idle-timeout', '5'], []);
		assert.equal((await switchboard.exited).code, 2);
		assert.match(switchboard.stderr, /--idle-timeout sets the one model .* set it in \[defaults\] or per model \(as idle_timeout\)/);
	});
});

describe('legacy backend files', () => {
	it('serves traffic from vllm-router\'s servers.toml and the forwarder\'s ip.txt unchanged', async () => {
		const replicas = await Promise.all([0, 1].map(async () => startSim({model: 'legacy', port: 0, tokenRate: 0})));
		try {
			const directory = mkdtempSync(path.join(os.tmpdir(), 'switchboard-legacy-'));
			const serversToml = path.join(directory, 'servers.toml');
			writeFileSync(serversToml, `[servers]\nservers = [\n  {url = "${replicas[0]!.url}/v1", max_concurrent_requests = 4},\n  {url = "${replicas[1]!.url}", max_concurrent_requests = 4},\n]\n`);
			const ipTxt = path.join(directory, 'ip.txt');
			writeFileSync(ipTxt, `# two backends\n${new URL(replicas[0]!.url).host}\n${replicas[1]!.url}/v1\n`);
			for (const [flag, file] of [['--config', serversToml], ['--backends', ipTxt]] as const) {
				const switchboard = await SwitchboardProcess.start([flag, file], []);
				running.push(switchboard);
				const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
				for (let i = 0; i < 6; i++) {
					const completion = await openai.chat.completions.create({model: 'legacy', messages: [{role: 'user', content: 'hi'}], max_tokens: 2});
					assert.equal(completion.model, 'legacy');
				}
			}

			assert.ok(replicas.every(replica => replica.stats().inferenceRequests > 0), 'both backends served');
		} finally {
			await Promise.all(replicas.map(async replica => replica.close()));
		}
	});
});

describe('static backends', () => {
	it('shares load by capacity and loses no request when a replica dies mid-burst', async () => {
		const replicas = await Promise.all([1, 2, 4].map(async () => startSim({model: 'shared', port: 0, tokenRate: 40, maxNumSeqs: 64})));
		try {
			const file = configFile(`
[[models]]
name = "shared"
backends = [
	{url = "${replicas[0]!.url}/v1", capacity = 1},
	{url = "${replicas[1]!.url}", capacity = 2},
	{url = "${replicas[2]!.url}", capacity = 4},
]
`);
			const switchboard = await SwitchboardProcess.start(['--config', file], []);
			running.push(switchboard);
			const openai = new OpenAI({baseURL: `${switchboard.url}/v1`, apiKey: 'none', maxRetries: 0});
			const burst = async (total: number, concurrency: number) => {
				let next = 0;
				const failures: unknown[] = [];
				await Promise.all(Array.from({length: concurrency}, async () => {
					while (next++ < total) {
						await openai.chat.completions.create({model: 'shared', messages: [{role: 'user', content: 'hi'}], max_tokens: 4}).catch((error: unknown) => failures.push(error));
					}
				}));
				return failures;
			};

			assert.deepEqual(await burst(140, 14), []);
			const served = replicas.map(replica => replica.stats().inferenceRequests);
			const share = (index: number) => served[index]! / 140;
			assert.ok(share(2) > share(1) && share(1) > share(0), `shares follow capacity: ${served.join(', ')}`);
			assert.ok(share(2) > 0.4 && share(2) < 0.75, `the capacity-4 replica took ${served[2]} of 140`);

			// The largest replica dies during the next burst: retries on the others absorb it.
			setTimeout(() => void replicas[2]!.close(), 150);
			assert.deepEqual(await burst(140, 14), []);
		} finally {
			await Promise.all(replicas.map(async replica => replica.close()));
		}
	});
});
