import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import type {HealthConfig} from '../../source/config/types.js';
import type {BackendLoad} from '../../source/dataplane/protocol.js';
import {readBackendMetrics} from '../../source/metrics/backend-metrics.js';
import {BackendMonitor, type Probe} from '../../source/metrics/monitor.js';
import {FakeClock} from '../helpers/fake-clock.js';

const config: HealthConfig = {enabled: true, intervalMs: 2000, timeoutMs: 1000, unhealthyAfter: 3};

const exposition = (running: number, waiting: number, kv: number) => `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} ${running}.0
vllm:num_requests_waiting{engine="0",model_name="m"} ${waiting}.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} ${kv}
`;

/** Backends that answer as a table says, per URL; a missing entry refuses the connection. */
function backends(answers: Map<string, {status: number; body: string}>): {probe: Probe; asked: string[]} {
	const asked: string[] = [];
	const probe: Probe = async url => {
		asked.push(url);
		const answer = answers.get(url);
		if (!answer) {
			throw Object.assign(new Error(`connect ECONNREFUSED ${url}`), {code: 'ECONNREFUSED'});
		}

		return answer;
	};

	return {probe, asked};
}

function monitor(probe: Probe) {
	const clock = new FakeClock();
	const changes: Array<[string, boolean]> = [];
	const loads: BackendLoad[][] = [];
	const watcher = new BackendMonitor(config, clock, probe, readBackendMetrics, {
		health(backend) {
			changes.push([backend.url, backend.healthy]);
		},
		loads(round) {
			loads.push(round);
		},
	});
	watcher.start();
	return {clock, watcher, changes, loads};
}

describe('backend monitor', () => {
	it('scrapes load every interval and hands it to routing', async () => {
		const answers = new Map([['http://a/metrics', {status: 200, body: exposition(3, 1, 0.5)}]]);
		const {probe} = backends(answers);
		const {clock, watcher, loads} = monitor(probe);
		watcher.watch([{model: 'm', url: 'http://a', pingPath: '/health'}]);
		await clock.advance(1999);
		assert.equal(loads.length, 0);
		await clock.advance(1);
		assert.deepEqual(loads.at(-1), [{url: 'http://a', healthy: true, running: 3, waiting: 1, kvCacheUsage: 0.5}]);
		answers.set('http://a/metrics', {status: 200, body: exposition(0, 0, 0.1)});
		await clock.advance(2000);
		assert.equal(loads.length, 2);
		assert.equal(loads.at(-1)![0]!.running, 0);
	});

	it('is unhealthy only after several failed checks in a row, healthy again after one success', async () => {
		const answers = new Map([['http://a/metrics', {status: 200, body: exposition(0, 0, 0)}]]);
		const {probe} = backends(answers);
		const {clock, watcher, changes, loads} = monitor(probe);
		watcher.watch([{model: 'm', url: 'http://a', pingPath: '/health'}]);
		await clock.advance(2000);
		answers.delete('http://a/metrics');
		await clock.advance(4000);
		assert.deepEqual(changes, [], 'two failures are not enough');
		assert.equal(loads.at(-1)![0]!.running, undefined, 'a failing backend\'s old figures are dropped');
		await clock.advance(2000);
		assert.deepEqual(changes, [['http://a', false]]);
		assert.match(watcher.get('http://a')!.lastError!, /ECONNREFUSED/);
		await clock.advance(2000);
		assert.equal(changes.length, 1, 'one event per change');
		answers.set('http://a/metrics', {status: 500, body: ''});
		await clock.advance(2000);
		assert.equal(watcher.get('http://a')!.lastError, '/metrics answered 500');
		answers.set('http://a/metrics', {status: 200, body: exposition(0, 0, 0)});
		await clock.advance(2000);
		assert.deepEqual(changes, [['http://a', false], ['http://a', true]]);
		assert.equal(watcher.get('http://a')!.failures, 0);
	});

	it('a backend without /metrics is checked on its ping path', async () => {
		const answers = new Map([['http://a/metrics', {status: 404, body: ''}], ['http://a/ping', {status: 200, body: ''}]]);
		const {probe, asked} = backends(answers);
		const {clock, watcher, changes} = monitor(probe);
		watcher.watch([{model: 'm', url: 'http://a', pingPath: '/ping'}]);
		await clock.advance(4000);
		assert.deepEqual(asked, ['http://a/metrics', 'http://a/ping', 'http://a/ping']);
		assert.equal(watcher.get('http://a')!.hasMetrics, false);
		answers.set('http://a/ping', {status: 503, body: ''});
		await clock.advance(6000);
		assert.deepEqual(changes, [['http://a', false]]);
	});

	it('forgets backends no longer watched and stops with switchboard', async () => {
		const {probe, asked} = backends(new Map());
		const {clock, watcher} = monitor(probe);
		watcher.watch([{model: 'm', url: 'http://a', pingPath: '/health'}, {model: 'm', url: 'http://b', pingPath: '/health'}]);
		await clock.advance(2000);
		watcher.watch([{model: 'm', url: 'http://b', pingPath: '/health'}]);
		assert.equal(watcher.get('http://a'), undefined);
		await clock.advance(2000);
		assert.deepEqual(asked, ['http://a/metrics', 'http://b/metrics', 'http://b/metrics']);
		watcher.stop();
		await clock.advance(10_000);
		assert.equal(asked.length, 3);
	});
});
