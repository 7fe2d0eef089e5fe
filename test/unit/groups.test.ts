import assert from 'node:assert/strict';
import {beforeEach, describe, it} from 'node:test';
import type {ModelConfig} from '../../source/config/types.js';
import {type Fleet, OperatorError} from '../../source/fleet/fleet.js';
import {memoryStore, type PreferenceStore} from '../../source/fleet/preferences.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {fakeFleet, FakeInstance, fleetConfig, localModel, staticModel} from '../helpers/fleet.js';

const second = 1000;
const minute = 60 * second;

describe('exclusive groups', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	let fleet: Fleet;
	/** Most members of one group that ever held it at once (loading, ready or draining). */
	let mostHolding: number;
	/** While true, the data plane has requests in flight on every backend being stopped. */
	let holdDrains: boolean;
	let store: PreferenceStore;

	function build(...models: ModelConfig[]): void {
		fleet = fakeFleet(fleetConfig(...models), instances, {
			clock,
			busyBackends: async urls => holdDrains ? urls : [],
			preferences: store,
		});
		fleet.events.on(event => {
			if (event.type === 'model.state') {
				const holding = fleet.models.filter(model => model.config.group === 'gpu0' && ['loading', 'ready', 'draining'].includes(model.state));
				mostHolding = Math.max(mostHolding, holding.length);
			}
		});
	}

	const gpu0 = (name: string, overrides: Partial<ModelConfig> = {}) => localModel(name, {group: 'gpu0', ...overrides});
	const state = (name: string) => fleet.get(name)!.state;
	const launched = (name: string) => instances.filter(instance => instance.spec.model === name);
	/** Makes the last backend started for the model ready. */
	const becomeReady = (name: string) => {
		launched(name).at(-1)!.becomeReady();
	};

	async function ready(name: string): Promise<void> {
		fleet.demand(name);
		await settle();
		becomeReady(name);
		await settle();
		assert.equal(state(name), 'ready');
	}

	/** The data plane reports that the requests on the model's last backend have finished. */
	const finishRequests = (name: string) => {
		fleet.activity([], [{url: `http://127.0.0.1:${launched(name).at(-1)!.spec.port}`, inflight: 0}]);
	};

	/** `a` is ready with requests at its backend (its drain held open) when `b` asks for the group and a's residency ends. */
	async function swapOutWithRequestsInFlight(): Promise<void> {
		await ready('a');
		holdDrains = true;
		fleet.demand('b');
		await clock.advance(30 * second);
		assert.equal(state('a'), 'draining', 'out of rotation');
	}

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		mostHolding = 0;
		holdDrains = false;
		store = memoryStore();
		build(gpu0('a'), gpu0('b'), gpu0('c'), localModel('free'));
	});

	it('never runs two members at once, loading included, however requests for both interleave', async () => {
		fleet.demand('a');
		fleet.demand('b');
		await settle();
		assert.equal(state('a'), 'loading');
		assert.equal(state('b'), 'stopped', 'b waits while a loads');
		assert.equal(fleet.describe(fleet.get('b')!).waitingForGroup, true);
		for (let round = 0; round < 6; round++) {
			fleet.demand('a');
			fleet.demand('b');
			const holder = state('a') === 'loading' ? 'a' : 'b';
			becomeReady(holder);
			await settle();
			await clock.advance(30 * second);
		}

		assert.equal(mostHolding, 1);
		assert.ok(launched('a').length >= 3 && launched('b').length >= 3, 'they took turns');
		fleet.demand('free');
		await settle();
		assert.equal(state('free'), 'loading', 'a model without a group starts beside them');
	});

	it('keeps a model that just became ready for its min_residency, counted from ready', async () => {
		await ready('a');
		await clock.advance(10 * second);
		fleet.demand('b');
		await clock.advance(19 * second);
		assert.equal(state('a'), 'ready', '29 s after ready: still resident');
		assert.equal(launched('b').length, 0);
		await clock.advance(1 * second);
		assert.equal(launched('a')[0]!.stopped, true, 'swapped out once its residency ended');
		assert.equal(state('b'), 'loading');
		assert.match(fleet.get('a')!.snapshot().reason ?? '', /swapped out for b \(group gpu0\) after 30s of use/);
	});

	it('a shorter min_residency, and 0, let it go sooner', async () => {
		build(gpu0('a', {minResidencyMs: 0}), gpu0('b'));
		await ready('a');
		fleet.demand('b');
		await settle();
		assert.equal(state('b'), 'loading', 'swapped at once');
	});

	it('gives the group to waiting models first come, first served', async () => {
		await ready('a');
		fleet.demand('c');
		await clock.advance(1 * second);
		fleet.demand('b');
		await clock.advance(29 * second);
		assert.equal(state('c'), 'loading', 'c asked first');
		assert.equal(state('b'), 'stopped');
		becomeReady('c');
		await clock.advance(29 * second);
		assert.equal(state('c'), 'ready', 'c has its own residency before b may take over');
		await clock.advance(1 * second);
		assert.equal(state('b'), 'loading');
		assert.equal(mostHolding, 1);
	});

	it('one swap serves every request waiting for the model', async () => {
		await ready('a');
		for (let i = 0; i < 50; i++) {
			fleet.demand('b');
		}

		await clock.advance(30 * second);
		for (let i = 0; i < 50; i++) {
			fleet.demand('b');
		}

		await settle();
		assert.equal(launched('b').length, 1);
		assert.equal(launched('a').length, 1);
		assert.equal(state('b'), 'loading');
	});

	it('swaps only once the running model\'s requests at its backend have finished', async () => {
		await swapOutWithRequestsInFlight();
		assert.equal(launched('a')[0]!.stopped, false, 'its backend still serves what it has');
		assert.equal(launched('b').length, 0);
		finishRequests('a');
		await settle();
		assert.equal(launched('a')[0]!.stopped, true);
		assert.equal(state('b'), 'loading');
	});

	it('gives up waiting for a drain after the drain timeout', async () => {
		await swapOutWithRequestsInFlight();
		await clock.advance(5 * minute);
		assert.equal(launched('a')[0]!.stopped, true);
		assert.equal(state('b'), 'loading');
	});

	it('a request for the model being swapped out brings it back after the one that displaced it', async () => {
		await swapOutWithRequestsInFlight();
		fleet.demand('a');
		holdDrains = false;
		finishRequests('a');
		await settle();
		assert.equal(state('b'), 'loading');
		assert.equal(state('a'), 'stopped');
		becomeReady('b');
		await clock.advance(30 * second);
		assert.equal(state('a'), 'loading', 'a waited for b\'s residency, then got the group back');
		assert.equal(mostHolding, 1);
	});

	it('switches at the operator\'s order without waiting for the residency, and answers once ready', async () => {
		await ready('a');
		fleet.demand('c');
		const switched = fleet.switchTo('b');
		await settle();
		assert.equal(launched('a')[0]!.stopped, true, 'a stopped at once');
		assert.equal(state('b'), 'loading', 'b goes before c, which asked earlier');
		assert.equal(state('c'), 'stopped');
		becomeReady('b');
		assert.equal(await switched, 'ready');
		assert.equal(mostHolding, 1);
	});

	it('a restart keeps the group for the model restarted, ahead of those waiting', async () => {
		await ready('a');
		fleet.demand('b');
		await settle();
		const restarted = fleet.restart('a');
		await settle();
		assert.equal(launched('a').length, 2);
		assert.equal(state('a'), 'loading');
		assert.equal(state('b'), 'stopped');
		becomeReady('a');
		assert.equal(await restarted, 'ready');
		await clock.advance(30 * second);
		assert.equal(state('b'), 'loading', 'b\'s turn comes after a\'s new residency');
		assert.equal(mostHolding, 1);
	});

	it('a start that fails is the answer to the operator\'s start', async () => {
		const started = fleet.start('a');
		await settle();
		launched('a')[0]!.exit();
		assert.equal(await started, 'failed');
		assert.match(fleet.get('a')!.snapshot().reason ?? '', /exited with code 1 while loading/);
	});

	it('a model pinned on is never swapped out nor stopped when idle, and a plain start of another member is refused', async () => {
		const started = fleet.start('a', {pin: true});
		await settle();
		becomeReady('a');
		assert.equal(await started, 'ready');
		assert.equal(fleet.get('a')!.config.idleTimeoutMs, 0);
		fleet.demand('b');
		await clock.advance(3 * 60 * minute);
		assert.equal(state('a'), 'ready');
		assert.equal(launched('b').length, 0);
		assert.match(fleet.unavailable(fleet.get('b')!) ?? '', /b shares group gpu0 with a, which the operator keeps running; POST \/switch \{"model": "b"\} runs b instead/);
		assert.throws(() => fleet.start('b'), (error: OperatorError) => error.kind === 'conflict' && /pinned/.test(error.message));

		const switched = fleet.switchTo('b');
		await settle();
		becomeReady('b');
		assert.equal(await switched, 'ready');
		assert.equal(fleet.describe(fleet.get('a')!).pin, undefined, 'the switch ended a\'s pin');
		assert.equal(fleet.get('a')!.config.idleTimeoutMs, 30 * minute);
	});

	it('a model stopped with a pin refuses its requests and does not start until the operator starts it', async () => {
		await ready('free');
		await fleet.stop('free', {pin: true});
		assert.equal(state('free'), 'stopped');
		assert.equal(fleet.unavailable(fleet.get('free')!), 'free was stopped by the operator; POST /models/free/start to start it.');
		fleet.demand('free');
		await settle();
		assert.equal(launched('free').length, 1);
		const started = fleet.start('free');
		await settle();
		assert.equal(fleet.unavailable(fleet.get('free')!), undefined);
		becomeReady('free');
		assert.equal(await started, 'ready');
	});

	it('a stop withdraws the model\'s turn in its group', async () => {
		await ready('a');
		const started = fleet.start('b');
		await settle();
		await fleet.stop('b');
		assert.equal(await started, 'not started');
		await clock.advance(30 * second);
		assert.equal(state('a'), 'ready', 'nobody waits for the group any more');
	});

	it('an idle timeout set by the operator applies at once, outlives a reload, and null goes back to the file\'s', async () => {
		await ready('free');
		fleet.setIdleTimeout('free', 2 * minute);
		fleet.apply(fleetConfig(gpu0('a'), gpu0('b'), gpu0('c'), localModel('free', {idleTimeoutMs: 10 * minute})));
		await clock.advance(2 * minute);
		assert.equal(state('free'), 'stopped');
		fleet.setIdleTimeout('free', undefined);
		assert.equal(fleet.get('free')!.config.idleTimeoutMs, 10 * minute);
		assert.throws(() => fleet.setIdleTimeout('nope', 0), (error: OperatorError) => error.kind === 'not found');
	});

	it('keeps the operator\'s choices for the next run: pinned models start, stopped ones stay stopped', async () => {
		fleet.setIdleTimeout('c', 5 * minute);
		void fleet.start('a', {pin: true});
		await settle();
		await fleet.stop('free', {pin: true});
		await fleet.stopAll('restart');

		instances = [];
		build(gpu0('a'), gpu0('b'), gpu0('c'), localModel('free'));
		fleet.startPinned();
		await settle();
		assert.equal(state('a'), 'loading', 'pinned on: started with switchboard');
		assert.equal(fleet.get('c')!.config.idleTimeoutMs, 5 * minute);
		assert.match(fleet.unavailable(fleet.get('free')!) ?? '', /stopped by the operator/);
	});

	it('static models cannot be started or stopped by the operator', () => {
		build(staticModel('s', ['http://127.0.0.1:9']));
		assert.throws(() => fleet.start('s'), (error: OperatorError) => error.kind === 'conflict' && /static model/.test(error.message));
		assert.throws(() => fleet.stop('s'), (error: OperatorError) => error.kind === 'conflict');
		assert.throws(() => fleet.start('t'), (error: OperatorError) => error.kind === 'not found');
	});
});

describe('ad-hoc models', () => {
	it('runs a spec as a model of its own that outlives reloads and restarts until forgotten', async () => {
		const clock = new FakeClock();
		const store = memoryStore();
		const instances: FakeInstance[] = [];
		const base = fleetConfig(localModel('configured', {group: 'gpu0'}));
		// The switch command must exist: node stands in for vllm.
		const config = {...base, server: {...base.server, switchCommand: [process.execPath, 'serve']}, defaults: {...base.defaults, group: 'gpu0'}};
		const build = () => fakeFleet(config, instances, {
			clock,
			preferences: store,
			findPort: async () => 8101 + instances.length,
		});
		let fleet = build();
		fleet.demand('configured');
		await settle();
		instances[0]!.becomeReady();

		const {name, outcome} = fleet.switchToSpec(['org/tiny', '--max-model-len', '2048'], undefined);
		assert.equal(name, 'org/tiny');
		await settle();
		assert.equal(instances[0]!.stopped, true, 'the default group\'s model was switched out');
		assert.deepEqual(instances[1]!.spec.command.slice(0, 5), [process.execPath, 'serve', 'org/tiny', '--max-model-len', '2048']);
		instances[1]!.becomeReady();
		assert.equal(await outcome, 'ready');

		fleet.apply(config);
		assert.ok(fleet.get('org/tiny'), 'a reload keeps it');
		assert.deepEqual(fleet.describe(fleet.get('org/tiny')!).spec, ['org/tiny', '--max-model-len', '2048']);
		await fleet.stopAll('restart');
		fleet = build();
		assert.equal(fleet.get('org/tiny')!.config.group, 'gpu0', 'a restart too, in the default group');

		assert.throws(() => fleet.switchToSpec(['configured', '--dtype', 'half'], undefined), /configured model/);
		assert.throws(() => fleet.forget('configured'), /remove it from the configuration/);
		fleet.forget('org/tiny');
		assert.equal(fleet.get('org/tiny'), undefined);
		assert.deepEqual(store.load().adHoc, []);
	});
});
