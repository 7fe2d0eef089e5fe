import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import type {Pool} from 'undici';
import {defaultRouting} from '../../source/config/defaults.js';
import type {RoutingConfig, RoutingPolicy} from '../../source/config/types.js';
import {hashString} from '../../source/util/hash.js';
import {Picker, type PickRequest} from '../../source/routing/pick.js';
import {Upstream} from '../../source/routing/upstream.js';

const noPool = {} as Pool;

function upstreams(...capacities: number[]): Upstream[] {
	return capacities.map((capacity, index) => new Upstream(`http://127.0.0.1:${9000 + index}`, noPool, capacity));
}

/** A picker with a seeded generator, so a test sees the same "random" choices on every run. */
function picker(policy: RoutingPolicy, settings: Partial<RoutingConfig> = {}): Picker {
	let seed = 42;
	const random = () => {
		seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
		return seed / 2 ** 32;
	};

	return new Picker({...defaultRouting, ...settings, policy}, random);
}

const fresh: PickRequest = {now: 0, tried: undefined, session: undefined};

/** Sends `count` requests that all stay in flight, and says how many each backend got. */
function spread(choose: Picker, backends: Upstream[], count: number, request: PickRequest = fresh): number[] {
	for (let index = 0; index < count; index++) {
		choose.pick(backends, request)!.begin();
	}

	return backends.map(backend => backend.inflight);
}

function scrape(backend: Upstream, running: number, waiting: number, kvCacheUsage = 0.1): void {
	backend.observe({url: backend.url, healthy: true, running, waiting, kvCacheUsage});
}

describe('routing policies', () => {
	it('least-load without scrapes shares in-flight requests by capacity', () => {
		const backends = upstreams(1, 2, 4);
		assert.deepEqual(spread(picker('least-load'), backends, 14), [2, 4, 8]);
	});

	it('least-load reads (running·3 + waiting) / capacity from the scrape, plus what was sent since', () => {
		const [busy, idle] = upstreams(8, 8);
		scrape(busy!, 6, 4);
		scrape(idle!, 0, 0);
		const choose = picker('least-load');
		// busy scores 22; idle takes requests until it scores more (each sent one adds 3).
		assert.deepEqual(spread(choose, [busy!, idle!], 8), [0, 8]);
		assert.equal(idle!.load(), 24);
		assert.equal(choose.pick([busy!, idle!], fresh), busy);
	});

	it('a crowded backend (KV cache or queue) is avoided while another is not', () => {
		const [full, free] = upstreams(100, 1);
		scrape(full!, 0, 0, 0.99);
		scrape(free!, 10, 0);
		assert.equal(picker('least-load').pick([full!, free!], fresh), free);
		scrape(full!, 0, 40, 0.2);
		assert.equal(picker('least-inflight').pick([full!, free!], fresh), free);
		// Both crowded: the better one by the policy.
		scrape(free!, 10, 0, 0.99);
		assert.equal(picker('least-load').pick([full!, free!], fresh), full);
	});

	it('unhealthy backends are never chosen; none healthy means none', () => {
		const [down, up] = upstreams(1, 1);
		down!.observe({url: down!.url, healthy: false, running: undefined, waiting: undefined, kvCacheUsage: undefined});
		const choose = picker('round-robin');
		for (let index = 0; index < 4; index++) {
			assert.equal(choose.pick([down!, up!], fresh), up);
		}

		assert.equal(choose.pick([down!], fresh), undefined);
	});

	it('an open breaker is used only when every other backend was tried or is open too', () => {
		const [broken, fine] = upstreams(1, 1);
		for (let index = 0; index < 5; index++) {
			broken!.failed(1000);
		}

		assert.equal(picker('least-inflight').pick([broken!, fine!], {...fresh, now: 1000}), fine);
		assert.equal(picker('least-inflight').pick([broken!, fine!], {...fresh, now: 1000, tried: [fine!]}), broken);
		// After the cool-down it is half-open: tried like any other.
		assert.equal(picker('least-inflight').pick([fine!, broken!], {...fresh, now: 20_000, tried: [fine!]}), broken);
	});

	it('round-robin takes turns', () => {
		const backends = upstreams(1, 1, 1);
		const choose = picker('round-robin');
		const order = Array.from({length: 6}, () => backends.indexOf(choose.pick(backends, fresh)!));
		assert.deepEqual(order, [0, 1, 2, 0, 1, 2]);
	});

	it('random follows capacity', () => {
		const backends = upstreams(1, 3);
		const choose = picker('random');
		const counts = [0, 0];
		for (let index = 0; index < 4000; index++) {
			counts[backends.indexOf(choose.pick(backends, fresh)!)]!++;
		}

		assert.ok(Math.abs((counts[1]! / 4000) - 0.75) < 0.04, `shares ${counts.join('/')}`);
	});

	it('session keeps a session on one backend, spreads sessions, and spills over when its backend is full', () => {
		const backends = upstreams(2, 2, 2, 2);
		const choose = picker('session');
		const home = (id: string) => choose.pick(backends, {...fresh, session: hashString(id)});
		assert.equal(home('alice'), home('alice'));
		const homes = new Set(Array.from({length: 40}, (_, index) => home(`user-${index}`)));
		assert.equal(homes.size, 4);

		const alice = home('alice')!;
		alice.begin();
		alice.begin();
		// Full (in flight = capacity): this request goes to the least loaded of the others.
		const spilled = home('alice')!;
		assert.notEqual(spilled, alice);
		assert.equal(spilled.inflight, 0);
		// Without a session id it is least-load.
		assert.notEqual(choose.pick(backends, fresh), alice);
	});

	it('a session keeps its backend when another backend goes away', () => {
		const backends = upstreams(4, 4, 4);
		const choose = picker('session');
		const sessions = Array.from({length: 30}, (_, index) => hashString(`s${index}`));
		const before = sessions.map(session => choose.pick(backends, {...fresh, session}));
		const gone = backends[2]!;
		const after = sessions.map(session => choose.pick(backends.slice(0, 2), {...fresh, session}));
		for (const [index, backend] of before.entries()) {
			if (backend !== gone) {
				assert.equal(after[index], backend);
			}
		}
	});
});

describe('upstream accounting', () => {
	it('reports counts per latency bucket once, then starts again', () => {
		const [backend] = upstreams(1);
		assert.equal(backend!.report(), undefined);
		backend!.begin();
		backend!.finish(7, 3, false);
		backend!.begin();
		backend!.finish(400, undefined, true);
		const report = backend!.report()!;
		assert.equal(report.requests, 2);
		assert.equal(report.errors, 1);
		assert.equal(report.inflight, 0);
		assert.equal(report.latencyCounts[1], 1);
		assert.equal(report.latencyCounts[6], 1);
		assert.equal(report.ttftCounts.reduce((sum, count) => sum + count, 0), 1);
		assert.equal(backend!.report(), undefined);
	});
});
