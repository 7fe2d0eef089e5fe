import assert from 'node:assert/strict';
import {readdirSync, readFileSync} from 'node:fs';
import {after, describe, it} from 'node:test';
import {demoModels, readyAtOnce} from '../../source/demo/fleet.js';
import {cliPath, isAlive, SwitchboardProcess, until} from '../helpers/switchboard-process.js';

const running: SwitchboardProcess[] = [];

after(async () => {
	await Promise.all(running.map(async switchboard => switchboard.stop()));
});

interface ModelStatus {
	name: string;
	state: string;
	requests: number;
	replicas: Array<{state: string; pid: number | null}>;
}

interface LoadStats {
	servers: Array<{model: string; detailed_metrics: {requests_per_second: number}}>;
}

/** This build's `switchboard sim` processes playing a demo model, from /proc. */
function demoSims(): number[] {
	const names = new Set(demoModels.map(model => model.name));
	return readdirSync('/proc').filter(entry => /^\d+$/.test(entry)).flatMap(pid => {
		try {
			const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
			const model = argv[argv.indexOf('--model') + 1];
			return argv[1] === cliPath && argv[2] === 'sim' && model !== undefined && names.has(model) ? [Number(pid)] : [];
		} catch {
			// Gone meanwhile.
			return [];
		}
	});
}

describe('switchboard demo', () => {
	it('runs its fleet under a synthetic load, and stops everything on Ctrl-C', async () => {
		assert.deepEqual(demoSims(), [], 'no demo backend runs before the test');
		const switchboard = await SwitchboardProcess.start(['demo'], []);
		running.push(switchboard);
		const get = async <Body>(path: string) => (await fetch(`${switchboard.url}${path}`)).json() as Promise<Body>;
		const backendPids = new Set<number>();
		const models = async () => {
			const {models} = await get<{models: ModelStatus[]}>('/status');
			for (const pid of models.flatMap(model => model.replicas.map(replica => replica.pid))) {
				if (pid !== null) {
					backendPids.add(pid);
				}
			}

			return models;
		};

		const model = async (name: string) => (await models()).find(entry => entry.name === name)!;
		assert.deepEqual((await models()).map(entry => entry.name), demoModels.map(entry => entry.name));

		await until(async () => (await model(readyAtOnce)).state === 'ready', 10_000, `${readyAtOnce} ready`);
		await until(async () => (await model('llama-3.1-8b')).replicas.filter(replica => replica.state === 'ready').length === 2, 15_000, 'both replicas of llama-3.1-8b ready');

		const served = async () => (await models()).reduce((sum, entry) => sum + entry.requests, 0);
		const before = await served();
		await until(async () => await served() >= before + 5, 10_000, 'requests from the synthetic load');
		const stats = await get<LoadStats>('/load-stats');
		assert.ok(stats.servers.some(server => server.model === readyAtOnce && server.detailed_metrics.requests_per_second > 0), JSON.stringify(stats.servers));
		assert.ok(backendPids.size >= 3, 'the fast model and both replicas ran');
		assert.ok(readdirSync(switchboard.logDir).some(file => file.startsWith(readyAtOnce)), 'backend logs go to --log-dir');

		switchboard.child.kill('SIGINT');
		assert.deepEqual(await switchboard.exited, {code: 0, signal: null});
		assert.deepEqual([...backendPids].filter(pid => isAlive(pid)), [], 'every backend switchboard reported is gone');
		assert.deepEqual(demoSims().filter(pid => isAlive(pid)), [], 'no demo backend is left behind');
	});
});
