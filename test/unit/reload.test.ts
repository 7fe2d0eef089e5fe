import assert from 'node:assert/strict';
import {mkdtempSync, readFileSync, utimesSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {beforeEach, describe, it} from 'node:test';
import {pino} from 'pino';
import {ConfigError} from '../../source/config/errors.js';
import type {Config, ModelConfig} from '../../source/config/types.js';
import type {FleetEvent} from '../../source/fleet/events.js';
import {drainTimeoutMs, type Fleet} from '../../source/fleet/fleet.js';
import {describeReload, watchConfig} from '../../source/reload.js';
import {saveAsEditorsDo} from '../helpers/files.js';
import {until} from '../helpers/switchboard-process.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
// Under the short names the tests below read well with: config(local('a'), fixed('s', urls)).
import {fakeFleet, FakeInstance, fleetConfig as config, localModel as local, staticModel as fixed} from '../helpers/fleet.js';

const minute = 60_000;

describe('Fleet.apply', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	let events: FleetEvent[];
	/** The data plane's answers to quiesce, in order; each test resolves them. */
	let quiesces: Array<{model: string; answer(idle: boolean): void}>;
	let fleet: Fleet;

	function build(...models: ModelConfig[]): void {
		fleet = fakeFleet(config(...models), instances, {
			clock,
			quiesce: async model => new Promise(resolve => {
				quiesces.push({model, answer: resolve});
			}),
		});
		fleet.events.on(event => {
			events.push(event);
		});
	}

	/** Starts a model and makes it ready; returns its backend. */
	async function ready(name: string): Promise<FakeInstance> {
		fleet.demand(name);
		await settle();
		const instance = instances.at(-1)!;
		instance.listener.onReady();
		return instance;
	}

	const reloadEvents = () => events.flatMap(event => event.type === 'model.state' || event.type === 'log' ? [] : [`${event.type} ${event.model}`]);
	const inflight = (model: string, count: number) => {
		fleet.activity([{model, inflight: count, lastEndedAt: clock.now(), lastArrivedAt: clock.now(), requests: 1, errors: 0}]);
	};

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		events = [];
		quiesces = [];
	});

	it('diffs by name: adds, removes, changes, and keeps the file\'s order', async () => {
		build(local('a'), local('b'), local('c'));
		const summary = fleet.apply(config(local('d'), local('c', {idleTimeoutMs: 5 * minute}), local('a')));
		assert.deepEqual(summary, {added: ['d'], removed: ['b'], changed: [{name: 'c', settings: ['idleTimeoutMs'], atNextStart: []}], refused: []});
		assert.deepEqual(fleet.models.map(model => model.name), ['d', 'c', 'a']);
		assert.equal(fleet.get('c')!.config.idleTimeoutMs, 5 * minute);
		assert.deepEqual(reloadEvents(), ['model.added d', 'model.updated c', 'model.removed b']);
		assert.deepEqual(fleet.apply(config(local('d'), local('c', {idleTimeoutMs: 5 * minute}), local('a'))), {added: [], removed: [], changed: [], refused: []}, 'the same file again changes nothing');
	});

	it('an added model starts on demand like any other', async () => {
		build(local('a'));
		fleet.apply(config(local('a'), local('b')));
		await ready('b');
		assert.equal(fleet.get('b')!.state, 'ready');
		assert.deepEqual(instances.map(instance => instance.spec.model), ['b']);
	});

	it('stops a removed model at once when nothing is in flight, then forgets it', async () => {
		build(local('a'), local('b'));
		const backend = await ready('b');
		fleet.apply(config(local('a')));
		assert.equal(fleet.get('b'), undefined, 'gone from the routes at once');
		assert.equal(backend.stopped, false);
		assert.deepEqual(quiesces.map(quiesce => quiesce.model), ['b']);
		quiesces[0]!.answer(true);
		await settle();
		assert.equal(backend.stopped, true);
		const retired = events.find(event => event.type === 'model.retired');
		assert.deepEqual(retired, {type: 'model.retired', model: 'b', reason: 'nothing was in flight', at: clock.now()});
		assert.equal(clock.pending, 0, 'no drain timer left behind');
	});

	it('lets a removed model\'s requests finish before stopping its backend', async () => {
		build(local('a'), local('b'));
		const backend = await ready('b');
		inflight('b', 2);
		fleet.apply(config(local('a')));
		inflight('b', 0);
		await settle();
		assert.equal(backend.stopped, false, 'a report from before the data plane dropped the model proves nothing');
		quiesces[0]!.answer(false);
		await settle();
		inflight('b', 1);
		await clock.advance(minute);
		assert.equal(backend.stopped, false, 'one request still runs');
		inflight('b', 0);
		await settle();
		assert.equal(backend.stopped, true);
		assert.match(fleet.snapshot().map(model => model.name).join(), /^a$/);
		assert.ok(events.some(event => event.type === 'model.retired' && event.reason === 'its last request finished'));
	});

	it('stops a removed model under its requests once the drain timeout has passed', async () => {
		build(local('a'), local('b'));
		const backend = await ready('b');
		inflight('b', 1);
		fleet.apply(config(local('a')));
		quiesces[0]!.answer(false);
		await clock.advance(drainTimeoutMs - 1);
		assert.equal(backend.stopped, false);
		await clock.advance(1);
		assert.equal(backend.stopped, true);
		const stopped = events.findLast(event => event.type === 'model.state' && event.model === 'b');
		assert.ok(stopped?.type === 'model.state');
		assert.match(stopped.reason ?? '', /removed from the configuration; its requests were still running after 5m/);
	});

	it('a removed model added back before it has drained keeps its backend', async () => {
		build(local('a'), local('b'));
		const backend = await ready('b');
		inflight('b', 1);
		fleet.apply(config(local('a')));
		const summary = fleet.apply(config(local('a'), local('b')));
		assert.deepEqual(summary.added, ['b']);
		assert.equal(fleet.get('b')!.state, 'ready');
		quiesces[0]!.answer(true);
		inflight('b', 0);
		await clock.advance(drainTimeoutMs);
		assert.equal(backend.stopped, false, 'no drain is left to stop it');
		assert.equal(instances.length, 1);
	});

	it('a changed command reaches a running backend at its next start, never by killing it', async () => {
		build(local('a', {command: ['vllm', 'serve', 'org/a-v1'], servedName: 'org/a-v1'}));
		const backend = await ready('a');
		const summary = fleet.apply(config(local('a', {command: ['vllm', 'serve', 'org/a-v2'], servedName: 'org/a-v2', maxQueue: 5})));
		assert.deepEqual(summary.changed, [{name: 'a', settings: ['servedName', 'command', 'maxQueue'], atNextStart: ['servedName', 'command']}]);
		const model = fleet.get('a')!;
		assert.equal(backend.stopped, false);
		assert.equal(model.state, 'ready');
		assert.equal(model.servedName, 'org/a-v1', 'requests keep the name the running backend serves');
		assert.equal(model.config.maxQueue, 5, 'the rest applies at once');
		await fleet.stop('a');
		assert.equal(model.servedName, 'org/a-v2');
		await ready('a');
		assert.deepEqual(instances[1]!.spec.command, ['vllm', 'serve', 'org/a-v2', '--host', '127.0.0.1', '--port', '8101']);
		assert.equal(instances[1]!.spec.expectedModel, 'org/a-v2');
	});

	it('a changed served_name alone applies at once', async () => {
		build(local('a'));
		await ready('a');
		const summary = fleet.apply(config(local('a', {servedName: 'alias'})));
		assert.deepEqual(summary.changed, [{name: 'a', settings: ['servedName'], atNextStart: []}]);
		assert.equal(fleet.get('a')!.servedName, 'alias');
	});

	it('a shorter idle timeout counts from the last request', async () => {
		build(local('a'));
		const backend = await ready('a');
		inflight('a', 0);
		await clock.advance(10 * minute);
		fleet.apply(config(local('a', {idleTimeoutMs: 15 * minute})));
		await clock.advance(5 * minute - 1);
		assert.equal(backend.stopped, false);
		quiesces.length = 0;
		await clock.advance(1);
		quiesces[0]!.answer(true);
		await settle();
		assert.equal(backend.stopped, true);
		assert.match(fleet.get('a')!.snapshot().reason ?? '', /idle for 15m/);
	});

	it('a static model takes its new backends at once', () => {
		build(fixed('s', ['http://gpu-1:8000', 'http://gpu-2:8000']));
		const summary = fleet.apply(config(fixed('s', ['http://gpu-2:8000', 'http://gpu-3:8000'])));
		assert.deepEqual(summary.changed, [{name: 's', settings: ['backends'], atNextStart: []}]);
		assert.deepEqual(fleet.get('s')!.backends().map(backend => backend.url), ['http://gpu-2:8000', 'http://gpu-3:8000']);
		assert.deepEqual(reloadEvents(), ['model.updated s']);
	});

	it('refuses to turn a model of one launcher into another, and keeps it as it runs', async () => {
		build(local('a'));
		const backend = await ready('a');
		const summary = fleet.apply(config(fixed('a', ['http://gpu-1:8000'])));
		assert.equal(summary.refused.length, 1);
		assert.match(summary.refused[0]!, /models "a"\.launcher changed from "local" to "static", which is not applied live/);
		assert.equal(fleet.get('a')!.config.launcher, 'local');
		assert.equal(backend.stopped, false);
	});

	it('stops draining models too on shutdown', async () => {
		build(local('a'), local('b'));
		const backend = await ready('b');
		inflight('b', 1);
		fleet.apply(config(local('a')));
		await fleet.stopAll('shutdown');
		assert.equal(backend.stopped, true);
		assert.equal(clock.pending, 0);
	});
});

describe('reload report', () => {
	it('says what changed in one line', () => {
		assert.equal(describeReload({
			added: ['qwen'],
			removed: ['llama'],
			changed: [
				{name: 'mistral', settings: ['idleTimeoutMs', 'maxQueue', 'command', 'env'], atNextStart: ['command', 'env']},
				{name: 'phi', settings: ['command'], atNextStart: ['command']},
			],
			refused: [],
			server: ['logLevel', 'maxBodyBytes'],
		}), 'config reloaded: added qwen, removed llama (draining), changed mistral (idle_timeout, max_queue; command, env: at its next start), changed phi (command: at its next start), changed server.log_level, changed server.max_body_size');
		assert.equal(describeReload({added: [], removed: [], changed: [], refused: [], server: []}), 'config reloaded: nothing changed');
	});
});

describe('watching the config file', () => {
	it('applies each save, in place or renamed over, at the interval the file asks for, until stopped', async () => {
		const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchboard-watch-')), 'servers.toml');
		writeFileSync(file, 'a');
		// File times tick coarsely (a few ms): an older time keeps the first save, of the same size, from looking unchanged.
		utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
		const origin = {
			file,
			load(): Config {
				const text = readFileSync(file, 'utf8');
				if (text === 'broken') {
					throw new ConfigError(`${file}: broken`);
				}

				return {...config(local(text)), reloadIntervalMs: 50};
			},
		};
		const applied: string[] = [];
		const lines: Array<{level: number; msg: string}> = [];
		const logger = pino({base: undefined, timestamp: false}, {
			write(line: string) {
				lines.push(JSON.parse(line) as {level: number; msg: string});
			},
		});
		const watch = watchConfig(origin, config(local('a')), {
			apply(next) {
				applied.push(next.models[0]!.name);
				return {added: [next.models[0]!.name], removed: [], changed: [], refused: [], server: []};
			},
		}, logger);
		try {
			writeFileSync(file, 'b');
			await until(() => applied.length === 1, 3000, 'the first save (checked every second)');
			assert.deepEqual(lines.at(-1), {level: 30, msg: 'config reloaded: added b', file, added: ['b'], removed: [], changed: []});

			const saved = Date.now();
			saveAsEditorsDo(file, 'c');
			await until(() => applied.length === 2, 3000, 'the save renamed over the file');
			assert.ok(Date.now() - saved < 600, 'now checked every 50 ms, as the file asks');

			writeFileSync(file, 'broken');
			await until(() => lines.some(line => line.level === 50), 3000, 'the error line');
			assert.equal(lines.at(-1)!.msg, `config not reloaded, the running configuration stays: ${file}: broken`);
			assert.deepEqual(applied, ['b', 'c']);
		} finally {
			watch.stop();
		}

		writeFileSync(file, 'd');
		await new Promise(resolve => setTimeout(resolve, 300));
		assert.deepEqual(applied, ['b', 'c'], 'no reload once stopped');
	});
});
