import type {ModelState} from './model.js';
import type {ReplicaState} from './replica.js';

export type FleetEvent =
	| {
		type: 'model.state';
		model: string;
		state: ModelState;
		previous: ModelState;
		/** Why it changed, in words (set for failures, idle stops, crashes). */
		reason: string | undefined;
		at: number;
	}
	| {
		/** One replica of a managed model changed state (its model's state follows from its replicas'). */
		type: 'backend.state';
		model: string;
		/** From 0. */
		replica: number;
		/** Where it serves, while it runs. */
		url: string | undefined;
		port: number | undefined;
		state: ReplicaState;
		/** Why, for crashes and stops. */
		reason: string | undefined;
		at: number;
	}
	| {
		type: 'backend.health';
		model: string;
		url: string;
		healthy: boolean;
		/** What the failed checks saw, when it became unhealthy. */
		reason: string | undefined;
		at: number;
	}
	/** A reload added the model: requests can name it from now on. */
	| {type: 'model.added'; model: string; at: number}
	/** A reload or the operator changed the model's settings (see FleetModel.reconfigure) or choices (pins, idle timeout). */
	| {type: 'model.updated'; model: string; at: number}
	/** A reload removed the model: it takes no new request; those in flight finish (see Fleet.apply). */
	| {type: 'model.removed'; model: string; at: number}
	/** A removed model's backend is stopped and the fleet has forgotten it. */
	| {type: 'model.retired'; model: string; reason: string; at: number}
	| {type: 'log'; model: string; line: string; at: number}
	/** A line of switchboard's own log (lifecycle, health, reloads, keys), as /logs/tail?model=switchboard reads it. */
	| {type: 'switchboard.log'; line: string; at: number};

/** Every event type; the compiler checks the list is complete (GET /events?types= is checked against it). */
export const fleetEventTypes = Object.keys({
	'model.state': true,
	'backend.state': true,
	'backend.health': true,
	'model.added': true,
	'model.updated': true,
	'model.removed': true,
	'model.retired': true,
	log: true,
	'switchboard.log': true,
} satisfies Record<FleetEvent['type'], true>) as ReadonlyArray<FleetEvent['type']>;

export type FleetListener = (event: FleetEvent) => void;

/** One typed stream of every change; the UI, /events and the data-plane bridge all read it. */
export class FleetEvents {
	readonly #listeners = new Set<FleetListener>();

	on(listener: FleetListener): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	emit(event: FleetEvent): void {
		for (const listener of this.#listeners) {
			listener(event);
		}
	}
}
