import assert from 'node:assert/strict';
import {beforeEach, describe, it} from 'node:test';
import type {ModelConfig} from '../../source/config/types.js';
import type {Fleet} from '../../source/fleet/fleet.js';
import {GroupScheduler} from '../../source/fleet/groups.js';
import type {FleetModel, ModelState} from '../../source/fleet/model.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {fakeFleet, FakeInstance, fleetConfig, localModel} from '../helpers/fleet.js';

const minute = 60_000;

/** A start planned after a stop (a restart, a start while draining, a new spec) must not undo a newer stop, a removal or a shutdown. */
describe('operator verbs racing each other', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	let fleet: Fleet;
	/** Backends whose processes take their time to go: their stop resolves when the test releases it. */
	let slowStops: boolean;
	const releases: Array<() => void> = [];

	function build(...models: ModelConfig[]): void {
		fleet = fakeFleet(fleetConfig(...models), instances, {
			clock,
			launch(spec, listener) {
				const instance = new FakeInstance(spec, listener);
				if (slowStops) {
					instance.stop = async () => {
						instance.stopped = true;
						await new Promise<void>(resolve => {
							releases.push(resolve);
						});
					};
				}

				instances.push(instance);
				return instance;
			},
			// Every backend has a request in flight until finishRequests says otherwise.
			busyBackends: async urls => urls.filter(url => !finished.has(url)),
		});
	}

	const finished = new Set<string>();
	const launched = (name: string) => instances.filter(instance => instance.spec.model === name);
	const running = () => instances.filter(instance => !instance.stopped);
	const state = (name: string) => fleet.get(name)!.state;

	/** The data plane reports that the requests on the model's backend have finished. */
	const finishRequests = (name: string) => {
		const {url} = launched(name).at(-1)!;
		finished.add(url);
		fleet.activity([{model: name, inflight: 0, queued: 0, lastEndedAt: clock.now(), lastArrivedAt: clock.now(), requests: 1, errors: 0}], [{url, inflight: 0}]);
	};

	async function ready(name: string): Promise<void> {
		fleet.demand(name);
		await settle();
		launched(name).at(-1)!.becomeReady();
		await settle();
		assert.equal(state(name), 'ready');
	}

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		slowStops = false;
		releases.length = 0;
		finished.clear();
	});

	it('a stop during a restart\'s drain wins: the restart does not start the model again', async () => {
		build(localModel('m'));
		await ready('m');
		const restarted = fleet.restart('m');
		await settle();
		assert.equal(state('m'), 'draining', 'its request in flight finishes first');
		const stopped = fleet.stop('m');
		await settle();
		finishRequests('m');
		await stopped;
		await settle();
		assert.equal(await restarted, 'not started');
		assert.equal(state('m'), 'stopped');
		assert.equal(launched('m').length, 1);
		assert.equal(running().length, 0);
	});

	it('a stop during a restart of a group member gives the group to the next in line', async () => {
		build(localModel('a', {group: 'g'}), localModel('b', {group: 'g'}));
		await ready('a');
		fleet.demand('b');
		await settle();
		const restarted = fleet.restart('a');
		await settle();
		const stopped = fleet.stop('a');
		finishRequests('a');
		await stopped;
		await settle();
		assert.equal(await restarted, 'not started');
		assert.equal(state('a'), 'stopped');
		assert.equal(state('b'), 'loading');
	});

	it('shutting down during a restart\'s drain leaves no backend running', async () => {
		build(localModel('m'));
		await ready('m');
		const restarted = fleet.restart('m');
		await settle();
		await fleet.stopAll('shutting down');
		await settle();
		assert.equal(await restarted, 'not started');
		assert.equal(launched('m').length, 1);
		assert.equal(running().length, 0);
	});

	it('a model removed by a reload during its restart\'s drain is not started again', async () => {
		build(localModel('m'), localModel('other'));
		await ready('m');
		const restarted = fleet.restart('m');
		await settle();
		fleet.apply(fleetConfig(localModel('other')));
		await settle();
		finishRequests('m');
		await settle();
		assert.equal(await restarted, 'not started');
		assert.deepEqual(fleet.models.map(model => model.name), ['other']);
		assert.equal(launched('m').length, 1);
		assert.equal(running().length, 0);
	});

	it('nothing starts after a shutdown, in a group or not', async () => {
		build(localModel('a', {group: 'g'}), localModel('b'));
		await fleet.stopAll('shutting down');
		fleet.demand('a');
		fleet.demand('b');
		assert.equal(await fleet.start('b'), 'not started');
		await settle();
		assert.equal(instances.length, 0);
	});

	// Passes once replicas stay `stopping` (FleetModel.leaving) until their processes are gone (the model.ts/replica.ts change).
	it('a member that failed holds its group until its backend\'s processes are gone', async () => {
		slowStops = true;
		build(localModel('a', {group: 'g'}), localModel('b', {group: 'g'}));
		fleet.demand('a');
		await settle();
		fleet.demand('b');
		await settle();
		await clock.advance(fleet.get('a')!.config.startupTimeoutMs);
		assert.equal(state('a'), 'failed');
		assert.equal(launched('b').length, 0, 'a\'s process still holds the GPU');
		releases.shift()!();
		await settle();
		assert.equal(state('b'), 'loading');
	});
});

describe('group scheduler', () => {
	/** A member of group g as the scheduler sees it. */
	function member(name: string, state: ModelState, leaving = false): FleetModel {
		return {name, state, leaving, config: localModel(name, {group: 'g', minResidencyMs: minute}), snapshot: () => ({readyAt: undefined})} as unknown as FleetModel;
	}

	it('counts a member whose backends are still stopping as holding its group', async () => {
		const leaving = member('a', 'failed', true);
		const waiting = member('b', 'stopped');
		const scheduler = new GroupScheduler({
			clock: new FakeClock(),
			models: () => [leaving, waiting],
			pinnedOn: () => false,
			evict: () => assert.fail('nothing to evict: a is already stopping'),
		});
		let admitted: boolean | undefined;
		void scheduler.admit(waiting).then(answer => {
			admitted = answer;
		});
		await settle();
		assert.equal(admitted, undefined);
		(leaving as {leaving: boolean}).leaving = false;
		scheduler.changed();
		await settle();
		assert.equal(admitted, true);
	});
});
