import assert from 'node:assert/strict';
import {beforeEach, describe, it} from 'node:test';
import type {ModelConfig, ReplicaConfig} from '../../source/config/types.js';
import {defaultReplicas} from '../../source/config/defaults.js';
import type {Fleet} from '../../source/fleet/fleet.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {fakeFleet, FakeInstance, fleetConfig, localModel} from '../helpers/fleet.js';

const second = 1000;
const minute = 60 * second;

describe('replicas', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	/** Backends the data plane would still have requests in flight on. */
	let busy: Set<string>;
	let fleet: Fleet;

	function build(replicas: Partial<ReplicaConfig>, overrides: Partial<ModelConfig> = {}): void {
		fleet = fakeFleet(fleetConfig(localModel('m', {replicas: {...defaultReplicas, ...replicas}, capacity: 2, ...overrides})), instances, {
			clock,
			busyBackends: async urls => urls.filter(url => busy.has(url)),
		});
	}

	const model = () => fleet.get('m')!;
	const running = () => instances.filter(instance => !instance.stopped);
	const urls = () => model().backends().map(backend => backend.url);
	/** The data plane's report: this many requests in flight for the model. */
	const load = (inflight: number) => {
		fleet.activity([{model: 'm', inflight, queued: 0, lastEndedAt: clock.now(), lastArrivedAt: clock.now(), requests: 1, errors: 0}]);
	};

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		busy = new Set();
	});

	it('starts min replicas, each on its own port, and routes to those that are ready', async () => {
		build({min: 2, max: 2});
		fleet.demand('m');
		await settle();
		assert.deepEqual(instances.map(instance => instance.spec.port), [8101, 8102]);
		instances[1]!.becomeReady();
		assert.equal(model().state, 'ready', 'ready with its first replica');
		assert.deepEqual(urls(), ['http://127.0.0.1:8102']);
		instances[0]!.becomeReady();
		assert.deepEqual(urls(), ['http://127.0.0.1:8101', 'http://127.0.0.1:8102']);
		assert.deepEqual(model().snapshot().replicas.map(replica => [replica.index, replica.state, replica.port]), [[0, 'ready', 8101], [1, 'ready', 8102]]);
	});

	it('gives each replica its own slice of the GPUs', async () => {
		build({min: 2, max: 2}, {gpus: ['0', '1', '2', '3'], gpusPerReplica: 2, env: {HF_HOME: '/data'}});
		fleet.demand('m');
		await settle();
		assert.deepEqual(instances.map(instance => instance.spec.env), [
			{HF_HOME: '/data', CUDA_VISIBLE_DEVICES: '0,1'},
			{HF_HOME: '/data', CUDA_VISIBLE_DEVICES: '2,3'},
		]);
		assert.deepEqual(model().snapshot().replicas.map(replica => replica.gpus), [['0', '1'], ['2', '3']]);
	});

	it('adds a replica when the queue per replica stays long for scale_up_after, up to max', async () => {
		build({min: 1, max: 3, scaleUpQueue: 1, scaleUpAfterMs: 30 * second});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		load(6);
		await clock.advance(29 * second);
		assert.equal(instances.length, 1, 'not before the window has passed');
		await clock.advance(1 * second);
		assert.equal(instances.length, 2);
		await clock.advance(5 * minute);
		assert.equal(instances.length, 2, 'no other while one is loading');
		instances[1]!.becomeReady();
		load(10);
		await clock.advance(30 * second);
		assert.equal(instances.length, 3);
		instances[2]!.becomeReady();
		load(100);
		await clock.advance(10 * minute);
		assert.equal(instances.length, 3, 'never more than max');
	});

	it('a queue that shrinks within the window does not add one', async () => {
		build({min: 1, max: 2, scaleUpQueue: 1, scaleUpAfterMs: 30 * second});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		load(6);
		await clock.advance(20 * second);
		load(2);
		await clock.advance(20 * second);
		load(6);
		await clock.advance(20 * second);
		assert.equal(instances.length, 1);
	});

	it('drops to min once requests stop for scale_down_after, after those in flight on it finish', async () => {
		build({min: 1, max: 3, scaleDownAfterMs: 5 * minute}, {idleTimeoutMs: 0});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		await (model() as unknown as {start(): Promise<void>}).start();
		load(20);
		await clock.advance(30 * second);
		instances[1]!.becomeReady();
		load(20);
		await clock.advance(30 * second);
		instances[2]!.becomeReady();
		assert.equal(urls().length, 3);
		busy.add('http://127.0.0.1:8103');
		load(0);
		await clock.advance(5 * minute);
		assert.deepEqual(urls(), ['http://127.0.0.1:8101'], 'the extra replicas take no new request');
		assert.equal(instances[1]!.stopped, true);
		assert.equal(instances[2]!.stopped, false, 'a replica still serving a request is left to finish it');
		fleet.activity([], [{url: 'http://127.0.0.1:8103', inflight: 0}]);
		await settle();
		assert.equal(instances[2]!.stopped, true);
		assert.equal(model().state, 'ready');
		assert.equal(running().length, 1);
	});

	it('a stop lets requests in flight finish, up to drain_timeout', async () => {
		build({min: 2, max: 2}, {drainTimeoutMs: 2 * minute});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		instances[1]!.becomeReady();
		busy.add('http://127.0.0.1:8101');
		busy.add('http://127.0.0.1:8102');
		const stopped = model().stop('operator');
		await settle();
		assert.equal(model().state, 'draining');
		assert.deepEqual(urls(), []);
		fleet.activity([], [{url: 'http://127.0.0.1:8101', inflight: 0}, {url: 'http://127.0.0.1:8102', inflight: 3}]);
		await settle();
		assert.equal(instances[0]!.stopped, true, 'each stops as soon as its requests are done');
		assert.equal(instances[1]!.stopped, false);
		assert.equal(model().state, 'draining');
		await clock.advance(2 * minute);
		await stopped;
		assert.equal(model().state, 'stopped');
		assert.ok(instances.every(instance => instance.stopped));
		assert.match(model().logs.tail(5).join('\n'), /still running after 2m; stopping under them/);
	});

	it('keeps serving on the others while a crashed replica restarts', async () => {
		build({min: 2, max: 2});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		instances[1]!.becomeReady();
		instances[0]!.exit({description: 'was killed by SIGKILL'});
		assert.equal(model().state, 'ready');
		assert.deepEqual(urls(), ['http://127.0.0.1:8102']);
		assert.deepEqual(model().snapshot().replicas.map(replica => replica.state), ['restarting', 'ready']);
		await clock.advance(1 * second);
		await settle();
		assert.equal(instances.length, 3);
		assert.equal(instances[2]!.spec.port, 8101, 'back on its port');
		instances[2]!.becomeReady();
		assert.equal(urls().length, 2);
	});

	it('a replica that fails to load while another serves is tried again, not the model failed', async () => {
		build({min: 2, max: 2});
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		instances[1]!.exit();
		assert.equal(model().state, 'ready');
		await clock.advance(1 * second);
		assert.equal(instances.length, 3);
	});

	describe('being stopped', () => {
		/** Two replicas ready, the second added under load. */
		async function twoReady(): Promise<void> {
			fleet.demand('m');
			await settle();
			instances[0]!.becomeReady();
			load(20);
			await clock.advance(30 * second);
			instances[1]!.becomeReady();
		}

		it('a replica that exits while it drains is not a crash, and its slot is not stopped again once reused', async () => {
			build({min: 1, max: 2, scaleDownAfterMs: 1 * minute}, {idleTimeoutMs: 0});
			await twoReady();
			busy.add('http://127.0.0.1:8102');
			load(0);
			await clock.advance(1 * minute);
			assert.deepEqual(model().snapshot().replicas.map(replica => replica.state), ['ready', 'draining']);
			instances[1]!.exit({description: 'was killed by SIGTERM'});
			await clock.advance(5 * second);
			assert.equal(model().snapshot().crashes, 0);
			assert.equal(instances.length, 2, 'not restarted');
			load(20);
			await clock.advance(30 * second);
			assert.equal(instances.length, 3, 'scaled up again into the freed slot');
			assert.equal(instances[2]!.spec.port, 8102);
			fleet.activity([], [{url: 'http://127.0.0.1:8102', inflight: 0}]);
			await settle();
			assert.equal(instances[2]!.stopped, false, 'the old drain does not reach the new backend');
		});

		it('does not drop replicas while one of them restarts', async () => {
			build({min: 1, max: 2, scaleDownAfterMs: 1 * minute}, {idleTimeoutMs: 0});
			await twoReady();
			instances[0]!.exit({description: 'was killed by SIGKILL'});
			load(0);
			await clock.advance(500);
			await clock.advance(2 * minute);
			assert.equal(instances[1]!.stopped, false, 'the only ready replica keeps serving');
			assert.ok(model().backends().length > 0);
		});

		it('a stop without draining cuts a draining stop short and leaves no timer behind', async () => {
			build({min: 2, max: 2}, {idleTimeoutMs: 0});
			fleet.demand('m');
			await settle();
			instances[0]!.becomeReady();
			instances[1]!.becomeReady();
			busy.add('http://127.0.0.1:8101');
			const draining = model().stop('operator');
			await settle();
			assert.equal(instances[0]!.stopped, false);
			await fleet.stopAll('shutdown');
			await draining;
			assert.ok(instances.every(instance => instance.stopped));
			assert.equal(clock.pending, 0);
		});

		it('a failed model counts as leaving until its processes are gone, and a stop waits for them', async () => {
			build({min: 1, max: 1}, {startupTimeoutMs: minute, idleTimeoutMs: 0});
			fleet.demand('m');
			await settle();
			let finish!: () => void;
			instances[0]!.stop = async () => new Promise(resolve => {
				finish = resolve;
			});
			await clock.advance(minute);
			assert.equal(model().state, 'failed');
			assert.equal(model().leaving, true);
			let stopped = false;
			void model().stop('shutdown', {drain: false}).then(() => {
				stopped = true;
			});
			await settle();
			assert.equal(stopped, false);
			finish();
			await settle();
			assert.equal(stopped, true);
			assert.equal(model().leaving, false);
		});
	});
});
