import type {AdminStream, AdminStreamWriter} from '../dataplane/bridge.js';
import type {AdminRequest} from '../dataplane/protocol.js';
import {fleetEventTypes, type FleetEvent, type FleetEvents} from '../fleet/events.js';
import type {Clock, Timer} from '../util/clock.js';

export interface EventFeedOptions {
	clock: Clock;
	/** How many of the last events are kept for clients that reconnect. */
	capacity?: number;
	/** A comment line goes out this often on every stream, so clients and proxies see it alive. */
	keepAliveMs?: number;
}

/** What GET /events asks for: which event types, and where a reconnecting client left off. */
export interface EventQuery {
	/** Undefined: every type. */
	types: ReadonlySet<string> | undefined;
	/** The id of the last event the client saw (its `Last-Event-ID`); undefined for a new client. */
	after: number | undefined;
}

interface NumberedEvent {
	id: number;
	event: FleetEvent;
}

const defaultCapacity = 1000;
const defaultKeepAliveMs = 15_000;

/**
 * GET /events: every fleet event as a Server-Sent Event, numbered, in order, each once. A new
 * client first gets a `snapshot` of the models (so it can build its view), then each change; a
 * client that reconnects with `Last-Event-ID` gets the events it missed from the last `capacity`,
 * or, when some are no longer kept, an `events.lost` event and a fresh snapshot.
 */
export class EventFeed {
	/** The last events, at `id % capacity`. */
	readonly #kept: NumberedEvent[] = [];
	#lastId = 0;
	readonly #subscribers = new Set<(numbered: NumberedEvent) => void>();
	readonly #clock: Clock;
	readonly #capacity: number;
	readonly #keepAliveMs: number;

	constructor(events: FleetEvents, options: EventFeedOptions) {
		this.#clock = options.clock;
		this.#capacity = options.capacity ?? defaultCapacity;
		this.#keepAliveMs = options.keepAliveMs ?? defaultKeepAliveMs;
		events.on(event => {
			const numbered = {id: ++this.#lastId, event};
			this.#kept[numbered.id % this.#capacity] = numbered;
			for (const subscriber of this.#subscribers) {
				subscriber(numbered);
			}
		});
	}

	/** Streams open now (switchboard_event_subscribers). */
	get subscribers(): number {
		return this.#subscribers.size;
	}

	/** A stream for `query`; `snapshot` gives the models as they are when it opens. */
	stream(query: EventQuery, snapshot: () => unknown): AdminStream {
		return {
			head: {status: 200, contentType: 'text/event-stream; charset=utf-8'},
			open: writer => this.#open(writer, query, snapshot),
		};
	}

	#open(writer: AdminStreamWriter, {types, after}: EventQuery, snapshot: () => unknown): () => void {
		const send = ({id, event}: NumberedEvent) => {
			if (!types || types.has(event.type)) {
				writer.write(sseMessage(id, event.type, event));
			}
		};

		const sendSnapshot = () => {
			writer.write(sseMessage(this.#lastId, 'snapshot', {type: 'snapshot', models: snapshot(), at: this.#clock.now()}));
		};

		if (after === undefined) {
			sendSnapshot();
		} else {
			const missed = this.#since(after);
			if (missed) {
				for (const numbered of missed) {
					send(numbered);
				}
			} else {
				const oldest = Math.max(1, this.#lastId - this.#capacity + 1);
				// No id: the client's position moves only with the snapshot that follows.
				writer.write(sseMessage(undefined, 'events.lost', {
					type: 'events.lost',
					after,
					oldest: oldest > this.#lastId ? null : oldest,
					message: after > this.#lastId
						? `Event ${after} is not one of this switchboard's (it restarted since?); a snapshot follows.`
						: `The events after ${after} are no longer kept (the last ${this.#capacity} are); a snapshot follows.`,
					at: this.#clock.now(),
				}));
				sendSnapshot();
			}
		}

		this.#subscribers.add(send);
		let timer: Timer | undefined;
		const keepAlive = () => {
			timer = this.#clock.setTimeout(() => {
				writer.write(': keep-alive\n\n');
				keepAlive();
			}, this.#keepAliveMs);
		};

		keepAlive();
		return () => {
			this.#subscribers.delete(send);
			if (timer) {
				this.#clock.clearTimeout(timer);
			}
		};
	}

	/** The events after `id`, oldest first; undefined when some of them are no longer kept, or `id` is not one of ours. */
	#since(id: number): NumberedEvent[] | undefined {
		if (id > this.#lastId || id < this.#lastId - this.#capacity) {
			return undefined;
		}

		const missed = [];
		for (let next = id + 1; next <= this.#lastId; next++) {
			missed.push(this.#kept[next % this.#capacity]!);
		}

		return missed;
	}
}

/** Reads GET /events's `?types=` and `Last-Event-ID`; a string says what is wrong with them. */
export function readEventQuery(request: AdminRequest): EventQuery | string {
	let after: number | undefined;
	if (request.lastEventId !== undefined) {
		const text = request.lastEventId.trim();
		after = Number(text);
		if (!/^\d+$/.test(text) || !Number.isSafeInteger(after)) {
			return `Last-Event-ID must be the id of an event this stream sent, a whole number (got ${JSON.stringify(request.lastEventId)}).`;
		}
	}

	const listed = request.query['types'];
	if (listed === undefined) {
		return {types: undefined, after};
	}

	const types = new Set(listed.split(',').map(type => type.trim()).filter(type => type !== ''));
	const known = new Set<string>(fleetEventTypes);
	const unknown = [...types].filter(type => !known.has(type));
	if (types.size === 0 || unknown.length > 0) {
		return `\`types\` must list event types separated by commas, of ${fleetEventTypes.join(', ')} (got ${JSON.stringify(listed)}).`;
	}

	return {types, after};
}

function sseMessage(id: number | undefined, type: string, data: unknown): string {
	// JSON.stringify leaves no line break in the text, so the data is one `data:` line. A field
	// not set is null, as in the other admin replies, rather than left out.
	const json = JSON.stringify(data, (_key, value: unknown) => value === undefined ? null : value);
	return `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${json}\n\n`;
}
