import assert from 'node:assert/strict';
import path from 'node:path';
import {describe, it} from 'node:test';
import {runFlagDefaults} from '../../source/config/flags.js';
import {demoConfig, demoModels, readyAtOnce} from '../../source/demo/fleet.js';
import {maxInFlight, requestTimeoutMs, startDemoLoad, type DemoRequest} from '../../source/demo/load.js';
import {seededRandom} from '../../source/sim/prng.js';
import {FakeClock} from '../helpers/fake-clock.js';

const second = 1000;
const minute = 60 * second;
const url = 'http://127.0.0.1:8100';

interface Sent extends DemoRequest {
	at: number;
	signal: AbortSignal;
}

/** A load whose requests are recorded and answered at once, or never (until aborted) with `hang`. */
function recordedLoad({hang = false, seed = 1} = {}) {
	const clock = new FakeClock();
	const start = clock.now();
	const sent: Sent[] = [];
	const load = startDemoLoad({
		url,
		models: demoModels,
		clock,
		random: seededRandom(seed),
		async send(request, signal) {
			sent.push({...request, at: clock.now() - start, signal});
			if (hang) {
				await new Promise((_resolve, reject) => {
					signal.addEventListener('abort', () => {
						reject(signal.reason as Error);
					});
				});
			}
		},
	});
	return {clock, sent, load};
}

describe('the demo load', () => {
	it('shares the requests out by weight, the slow model getting one now and then', async () => {
		const {clock, sent, load} = recordedLoad();
		await clock.advance(60 * minute);
		load.stop();
		const totalWeight = demoModels.reduce((sum, model) => sum + model.weight, 0);
		for (const model of demoModels) {
			const share = sent.filter(request => request.model === model.name).length / sent.length;
			const expected = model.weight / totalWeight;
			assert.ok(Math.abs(share - expected) < expected * 0.3, `${model.name}: ${share.toFixed(3)} of the requests, ${expected.toFixed(3)} expected`);
		}

		const slow = sent.filter(request => request.model === 'qwen3-32b');
		assert.ok(slow.length >= 20 && slow.length <= 100, `qwen3-32b got ${slow.length} requests in an hour`);
	});

	it('sends one to three requests a second on average, in bursts and pauses, mostly streaming', async () => {
		const {clock, sent, load} = recordedLoad({seed: 7});
		await clock.advance(30 * minute);
		load.stop();
		const perSecond = sent.length / (30 * 60);
		assert.ok(perSecond >= 1 && perSecond <= 3, `${perSecond.toFixed(2)} requests a second`);

		const busiest = Math.max(...sent.map(({at}) => sent.filter(other => other.at >= at && other.at < at + (3 * second)).length));
		assert.ok(busiest >= 12, `a burst: at most ${busiest} requests within 3 s`);
		const longestGap = Math.max(...sent.slice(1).map((request, index) => request.at - sent[index]!.at));
		assert.ok(longestGap >= 3 * second, `a pause: the longest gap is ${longestGap} ms`);

		const streaming = sent.filter(request => request.stream).length / sent.length;
		assert.ok(streaming > 0.6 && streaming < 0.9, `${streaming.toFixed(2)} of the requests stream`);
		assert.ok(sent.every(request => request.maxTokens >= 12 && request.maxTokens <= 64 && request.prompt.length > 0));
	});

	it('never has more than a few requests in flight, and times them out', async () => {
		const {clock, sent, load} = recordedLoad({hang: true});
		await clock.advance(30 * second);
		assert.equal(sent.length, maxInFlight, 'arrivals past the bound are dropped while nothing finishes');
		assert.ok(sent.every(request => !request.signal.aborted));

		await clock.advance(requestTimeoutMs);
		assert.ok(sent.slice(0, maxInFlight).every(request => request.signal.aborted), 'the first ones timed out');
		assert.ok(sent.length > maxInFlight, 'and made room for more');
		assert.equal(sent.filter(request => !request.signal.aborted).length <= maxInFlight, true);

		load.stop();
		assert.ok(sent.every(request => request.signal.aborted), 'stop aborts the requests in flight');
		await clock.advance(minute);
		assert.equal(clock.pending, 0, 'and schedules nothing more');
	});

	it('goes to a switchboard on 127.0.0.1 only', () => {
		assert.throws(() => startDemoLoad({url: 'http://10.0.0.5:8100', models: demoModels}), RangeError);
	});
});

describe('the demo fleet', () => {
	it('runs every model as `switchboard sim` through the local launcher, with its settings', () => {
		const config = demoConfig(runFlagDefaults, '/tmp/scratch');
		assert.deepEqual(config.models.map(model => model.name), demoModels.map(model => model.name));
		for (const model of config.models) {
			assert.equal(model.launcher, 'local');
			assert.deepEqual(model.command.slice(0, 3), [process.execPath, config.server.switchCommand[1], 'sim']);
			assert.equal(model.servedName, model.name);
		}

		const byName = (name: string) => config.models.find(model => model.name === name)!;
		assert.equal(byName(readyAtOnce).idleTimeoutMs, 0, 'the model ready at once stays up');
		assert.deepEqual([byName('llama-3.1-8b').replicas.min, byName('llama-3.1-8b').replicas.max], [2, 2]);
		assert.ok(byName('flaky-7b').command.includes('--exit-after'));
		assert.ok(byName('qwen3-32b').idleTimeoutMs > 0 && byName('qwen3-32b').idleTimeoutMs <= 5 * minute);
	});

	it('keeps its logs and state in its scratch directory unless the flags say where, and honours --port and --host', () => {
		const scratch = demoConfig(runFlagDefaults, '/tmp/scratch').server;
		assert.equal(scratch.logDir, path.join('/tmp/scratch', 'logs'));
		assert.equal(scratch.stateDir, path.join('/tmp/scratch', 'state'));

		const given = demoConfig({...runFlagDefaults, logDir: '/srv/logs', stateDir: '/srv/state', port: '9000', host: '0.0.0.0', switchCommand: 'vllm serve'}, '/tmp/scratch').server;
		assert.deepEqual([given.logDir, given.stateDir, given.port, given.host, given.switchCommand], ['/srv/logs', '/srv/state', 9000, '0.0.0.0', ['vllm', 'serve']]);
	});
});
