import assert from 'node:assert/strict';
import {beforeEach, describe, it} from 'node:test';
import type {ModelConfig} from '../../source/config/types.js';
import type {FleetEvent} from '../../source/fleet/events.js';
import type {Fleet} from '../../source/fleet/fleet.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {fakeFleet, FakeInstance, fleetConfig, localModel} from '../helpers/fleet.js';

const minute = 60_000;

describe('model lifecycle', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	let events: FleetEvent[];
	let quiesceAnswer: boolean;
	/** Ports some other process holds. */
	let foreignPorts: Set<number>;
	let fleet: Fleet;

	function build(overrides: Partial<ModelConfig> = {}): void {
		fleet = fakeFleet(fleetConfig(localModel('m', overrides)), instances, {
			clock,
			quiesce: async () => quiesceAnswer,
			findPort: async (model, taken) => {
				let port = model.portBase;
				while (taken.has(port) || foreignPorts.has(port)) {
					port++;
				}

				return port;
			},
			portInUse: async (_host, port) => foreignPorts.has(port),
		});
		fleet.events.on(event => {
			events.push(event);
		});
	}

	const states = () => events.flatMap(event => event.type === 'model.state' ? [event.state] : []);
	const model = () => fleet.get('m')!;
	const traffic = (inflight: number, lastEndedAt: number) => {
		fleet.activity([{model: 'm', inflight, lastEndedAt, lastArrivedAt: lastEndedAt, requests: 1, errors: 0}]);
	};

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		events = [];
		quiesceAnswer = true;
		foreignPorts = new Set();
		build();
	});

	it('starts once on demand, however many requests wait', async () => {
		fleet.demand('m');
		fleet.demand('m');
		await settle();
		fleet.demand('m');
		await settle();
		assert.equal(instances.length, 1);
		assert.equal(model().state, 'loading');
		assert.deepEqual(instances[0]!.spec.command, ['vllm', 'serve', 'm', '--host', '127.0.0.1', '--port', '8101']);
		instances[0]!.becomeReady();
		assert.equal(model().state, 'ready');
		assert.deepEqual(states(), ['loading', 'ready']);
	});

	it('stops after the idle timeout, counted from the end of the last request', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		traffic(1, 0);
		await clock.advance(40 * minute);
		assert.equal(model().state, 'ready', 'never stopped while a request is in flight');
		traffic(0, clock.now());
		await clock.advance(29 * minute);
		assert.equal(model().state, 'ready');
		await clock.advance(1 * minute);
		assert.equal(model().state, 'stopped');
		assert.equal(instances[0]!.stopped, true);
		assert.match(model().snapshot().reason ?? '', /idle for 30m/);
	});

	it('stays up when the data plane reports a request that arrived meanwhile', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		quiesceAnswer = false;
		await clock.advance(30 * minute);
		assert.equal(model().state, 'ready');
		assert.equal(instances[0]!.stopped, false);
	});

	it('an idle timeout of 0 never stops', async () => {
		build({idleTimeoutMs: 0});
		fleet.demand('m');
		await settle();
		instances.at(-1)!.becomeReady();
		await clock.advance(24 * 60 * minute);
		assert.equal(model().state, 'ready');
	});

	it('fails at once when the process dies while loading, with its last log lines', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.listener.onLog('RuntimeError: CUDA out of memory');
		instances[0]!.exit();
		assert.equal(model().state, 'failed');
		const failure = events.find(event => event.type === 'model.state' && event.state === 'failed');
		assert.ok(failure?.type === 'model.state');
		assert.equal(failure.previous, 'loading');
		assert.match(failure.reason ?? '', /exited with code 1 while loading/);
		assert.match(failure.reason ?? '', /CUDA out of memory/);
		fleet.demand('m');
		await settle();
		assert.equal(instances.length, 2, 'the next request tries again');
	});

	it('gives up after the startup timeout and stops the process', async () => {
		fleet.demand('m');
		await settle();
		await clock.advance(15 * minute);
		assert.equal(model().state, 'failed');
		assert.match(model().snapshot().reason ?? '', /did not become ready within 15m/);
		assert.equal(instances[0]!.stopped, true);
		instances[0]!.becomeReady();
		assert.equal(model().state, 'failed', 'a late ready of the abandoned process is ignored');
	});

	it('a crash while serving restarts it after a pause; its requests wait meanwhile', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		instances[0]!.exit({description: 'was killed by SIGKILL', signal: 'SIGKILL', code: null});
		assert.equal(model().state, 'loading', 'held, not failed');
		assert.match(model().snapshot().reason ?? '', /killed by SIGKILL while serving/);
		await clock.advance(999);
		assert.equal(instances.length, 1, 'not restarted at once');
		await clock.advance(1);
		assert.equal(instances.length, 2);
		instances[1]!.becomeReady();
		assert.deepEqual(states(), ['loading', 'ready', 'loading', 'ready']);
		assert.equal(model().snapshot().restarts, 1);
	});

	it('waits twice as long after each further crash', async () => {
		fleet.demand('m');
		await settle();
		const crashAndTime = async () => {
			instances.at(-1)!.becomeReady();
			const before = instances.length;
			instances.at(-1)!.exit();
			let waited = 0;
			while (instances.length === before) {
				await clock.advance(500);
				waited += 500;
			}

			return waited;
		};

		assert.deepEqual([await crashAndTime(), await crashAndTime(), await crashAndTime()], [1000, 2000, 4000]);
	});

	it('after max_crashes within the window it stays failed until an operator starts it', async () => {
		build({maxCrashes: 3});
		fleet.demand('m');
		await settle();
		for (let crash = 0; crash < 3; crash++) {
			instances.at(-1)!.becomeReady();
			instances.at(-1)!.exit({description: 'was killed by SIGSEGV'});
			await clock.advance(10_000);
		}

		assert.equal(model().state, 'failed');
		assert.match(model().snapshot().reason ?? '', /ended unexpectedly 3 times within 10m/);
		assert.match(model().snapshot().reason ?? '', /POST \/models\/m\/start/);
		const launched = instances.length;
		fleet.demand('m');
		await clock.advance(60 * minute);
		assert.equal(instances.length, launched, 'requests do not start it again');
		assert.ok(instances.every(instance => instance.stopped));
		await (model() as unknown as {start(): Promise<void>}).start();
		assert.equal(model().state, 'loading');
		assert.equal(instances.length, launched + 1);
	});

	it('crashes older than the window are forgotten', async () => {
		build({maxCrashes: 2, crashWindowMs: 10 * minute});
		fleet.demand('m');
		await settle();
		instances.at(-1)!.becomeReady();
		instances.at(-1)!.exit();
		await clock.advance(11 * minute);
		instances.at(-1)!.becomeReady();
		instances.at(-1)!.exit();
		assert.equal(model().state, 'loading', 'one crash in the window: restarted');
	});

	it('a request during an idle stop restarts it once the stop is done', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		let finishStop!: () => void;
		instances[0]!.stop = async () => new Promise(resolve => {
			finishStop = resolve;
		});
		await clock.advance(30 * minute);
		assert.equal(model().state, 'draining');
		fleet.demand('m');
		finishStop();
		await settle();
		assert.deepEqual(states(), ['loading', 'ready', 'draining', 'stopped', 'loading']);
		assert.equal(instances.length, 2);
	});

	it('never runs a new instance before the old one and everything it started are gone', async () => {
		fleet.demand('m');
		await settle();
		let finishTeardown!: () => void;
		instances[0]!.stop = async () => new Promise(resolve => {
			finishTeardown = resolve;
		});
		instances[0]!.becomeReady();
		instances[0]!.exit();
		await clock.advance(1000);
		assert.equal(model().state, 'loading');
		assert.equal(instances.length, 1, 'the restart waits for the old process group');
		finishTeardown();
		await settle();
		assert.equal(instances.length, 2);
		assert.equal(instances[1]!.spec.port, 8101, 'and gets the port back');
	});

	it('starts again on another port when another process won the race for its port', async () => {
		fleet.demand('m');
		await settle();
		foreignPorts.add(8101);
		instances[0]!.listener.onLog("OSError: [Errno 98] error while attempting to bind on address ('127.0.0.1', 8101): address already in use");
		instances[0]!.exit();
		await settle();
		assert.equal(model().state, 'loading', 'the waiting requests keep waiting');
		assert.equal(instances.length, 2);
		assert.equal(instances[1]!.spec.port, 8102);
		instances[1]!.becomeReady();
		assert.deepEqual(states(), ['loading', 'ready']);
	});

	it('fails as before when its port is free again: the backend died of something else', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.listener.onLog('address already in use (a stale message)');
		instances[0]!.exit();
		await settle();
		assert.equal(model().state, 'failed');
		assert.equal(instances.length, 1);
	});

	it('a launch that throws fails the start instead of crashing', async () => {
		build();
		const config = fleetConfig(localModel('m'));
		fleet = fakeFleet({...config, server: {...config.server, logDir: '/nowhere'}}, instances, {
			clock,
			launch() {
				throw new Error('ENOTDIR: not a directory');
			},
		});
		fleet.events.on(event => {
			events.push(event);
		});
		fleet.demand('m');
		await settle();
		assert.equal(model().state, 'failed');
		assert.match(model().snapshot().reason ?? '', /Cannot start m: ENOTDIR/);
		assert.equal(clock.pending, 0, 'no startup timer left behind');
	});

	it('hands each start its own port and frees it after', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.becomeReady();
		await fleet.stop('m');
		fleet.demand('m');
		await settle();
		assert.equal(instances[1]!.spec.port, 8101);
	});
});
