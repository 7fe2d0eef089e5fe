import assert from 'node:assert/strict';
import {beforeEach, describe, it} from 'node:test';
import {EventFeed, readEventQuery, type EventQuery} from '../../source/admin/event-feed.js';
import type {AdminRequest} from '../../source/dataplane/protocol.js';
import {FleetEvents} from '../../source/fleet/events.js';
import {FakeClock} from '../helpers/fake-clock.js';
import {SseReader, type ServerSentEvent} from '../helpers/sse.js';

/** A stream's client: what it received, read as an EventSource would. */
class Client {
	readonly #reader = new SseReader();
	readonly close: () => void;

	constructor(feed: EventFeed, query: EventQuery) {
		const stream = feed.stream(query, () => [{name: 'm', state: 'stopped'}]);
		assert.equal(stream.head.contentType, 'text/event-stream; charset=utf-8');
		this.close = stream.open({
			write: chunk => {
				this.#reader.push(chunk);
				assert.equal(this.#reader.partial, '', 'each chunk is whole messages');
			},
			end: () => {
				assert.fail('the feed ends a stream only when its client has gone');
			},
		});
	}

	get events(): ServerSentEvent[] {
		return this.#reader.events;
	}

	get comments(): string[] {
		return this.#reader.comments;
	}

	get types(): string[] {
		return this.events.map(event => event.event);
	}
}

describe('event feed (GET /events)', () => {
	let clock: FakeClock;
	let events: FleetEvents;
	let feed: EventFeed;
	const state = (state: 'loading' | 'ready' | 'stopped', previous: 'stopped' | 'loading' | 'ready') => {
		events.emit({type: 'model.state', model: 'm', state, previous, reason: undefined, at: clock.now()});
	};

	const log = (line: string) => {
		events.emit({type: 'log', model: 'm', line, at: clock.now()});
	};

	beforeEach(() => {
		clock = new FakeClock();
		events = new FleetEvents();
		feed = new EventFeed(events, {clock, capacity: 5, keepAliveMs: 15_000});
	});

	it('starts with a snapshot, then sends each event once, in order, numbered', () => {
		log('before anyone listens');
		const client = new Client(feed, {types: undefined, after: undefined});
		state('loading', 'stopped');
		log('loading weights');
		state('ready', 'loading');
		assert.deepEqual(client.types, ['snapshot', 'model.state', 'log', 'model.state']);
		assert.deepEqual(client.events.map(event => event.id), ['1', '2', '3', '4'], 'the snapshot carries the id of the last event it includes');
		assert.deepEqual(client.events[0]!.data['models'], [{name: 'm', state: 'stopped'}]);
		assert.deepEqual(client.events[1]!.data, {type: 'model.state', model: 'm', state: 'loading', previous: 'stopped', reason: null, at: clock.now()}, 'the event itself, unset fields as null');
	});

	it('sends only the types asked for', () => {
		const client = new Client(feed, {types: new Set(['model.state']), after: undefined});
		state('loading', 'stopped');
		log('chatty');
		state('ready', 'loading');
		assert.deepEqual(client.types, ['snapshot', 'model.state', 'model.state']);
		assert.deepEqual(client.events.map(event => event.id), ['0', '1', '3']);
	});

	it('replays what a reconnecting client missed, or says they are gone and sends a snapshot', () => {
		const first = new Client(feed, {types: undefined, after: undefined});
		state('loading', 'stopped');
		first.close();
		log('missed 1');
		state('ready', 'loading');
		assert.equal(first.events.length, 2, 'nothing after the client left');

		const resumed = new Client(feed, {types: undefined, after: 1});
		assert.deepEqual(resumed.types, ['log', 'model.state']);
		assert.deepEqual(resumed.events.map(event => event.id), ['2', '3']);
		resumed.close();

		const current = new Client(feed, {types: undefined, after: 3});
		assert.deepEqual(current.types, [], 'nothing missed, nothing sent');
		current.close();

		for (let i = 0; i < 6; i++) {
			log(`burst ${i}`);
		}

		const late = new Client(feed, {types: undefined, after: 3});
		assert.deepEqual(late.types, ['events.lost', 'snapshot']);
		assert.equal(late.events[0]!.id, undefined);
		assert.deepEqual({after: late.events[0]!.data['after'], oldest: late.events[0]!.data['oldest']}, {after: 3, oldest: 5});
		assert.match(late.events[0]!.data['message'] as string, /events after 3 are no longer kept \(the last 5 are\)/);
		assert.equal(late.events[1]!.id, '9');

		const oldest = new Client(feed, {types: undefined, after: 4});
		assert.deepEqual(oldest.events.map(event => event.id), ['5', '6', '7', '8', '9'], 'the oldest event kept is still replayed');

		const otherRun = new Client(feed, {types: undefined, after: 1000});
		assert.deepEqual(otherRun.types, ['events.lost', 'snapshot']);
		assert.match(otherRun.events[0]!.data['message'] as string, /not one of this switchboard's/);
	});

	it('sends a keep-alive comment every interval, and nothing once the client is gone', async () => {
		const client = new Client(feed, {types: undefined, after: undefined});
		await clock.advance(14_999);
		assert.deepEqual(client.comments, []);
		await clock.advance(1);
		await clock.advance(15_000);
		assert.deepEqual(client.comments, [': keep-alive', ': keep-alive']);
		assert.equal(feed.subscribers, 1);
		client.close();
		assert.equal(feed.subscribers, 0);
		assert.equal(clock.pending, 0, 'its keep-alive timer is gone');
		state('loading', 'stopped');
		assert.equal(client.events.length, 1);
	});
});

describe('reading GET /events', () => {
	const request = (query: Record<string, string>, lastEventId?: string): AdminRequest => ({method: 'GET', path: '/events', query, access: 'user', lastEventId, body: ''});

	it('reads types and Last-Event-ID', () => {
		assert.deepEqual(readEventQuery(request({})), {types: undefined, after: undefined});
		assert.deepEqual(readEventQuery(request({types: 'model.state, backend.health'}, ' 42 ')), {types: new Set(['model.state', 'backend.health']), after: 42});
	});

	it('names what is wrong', () => {
		assert.match(readEventQuery(request({types: 'model.state,stats'})) as string, /`types` must list event types separated by commas, of model\.state, backend\.state, backend\.health, .*log \(got "model\.state,stats"\)/);
		assert.match(readEventQuery(request({types: ','})) as string, /`types` must list/);
		assert.match(readEventQuery(request({}, 'abc')) as string, /Last-Event-ID must be the id of an event this stream sent, a whole number \(got "abc"\)/);
		assert.match(readEventQuery(request({}, '-1')) as string, /Last-Event-ID must be/);
	});
});
