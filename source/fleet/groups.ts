import type {Clock, Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import {isUp, type FleetModel} from './model.js';

/** What the scheduler needs of the fleet around it. */
export interface GroupHost {
	clock: Clock;
	/** Every model that may hold a group now, removed ones still finishing their requests included. */
	models(): Iterable<FleetModel>;
	/** The operator keeps it running: a request for another member of its group never swaps it out. */
	pinnedOn(model: FleetModel): boolean;
	/** Stops it to free its group; its requests in flight finish first (ManagedModel.stop drains). */
	evict(model: FleetModel, reason: string): void;
}

interface Admission {
	model: FleetModel;
	/** The operator's order (POST /switch): the others of the group stop now, whatever their residency. */
	ordered: boolean;
	resolve(admitted: boolean): void;
}

/** A model in one of these states holds its group: its backend is loading, serving or stopping. */
const holdingStates = new Set(['loading', 'ready', 'draining']);

/**
 * Takes turns within each group of mutually exclusive models (`group` in [[models]]), so that two
 * of them never run at once, loading included. A model about to start asks for its turn
 * (ModelContext.admit); turns are given in the order they were asked for. A member that is ready
 * and has been for its `min_residency` is swapped out for the first one waiting (its requests in
 * flight finish first); one swap serves every request waiting for that model, since a model asks
 * once however many requests wait for it.
 */
export class GroupScheduler {
	/** Models waiting for their turn, per group, first come first. */
	readonly #queues = new Map<string, Admission[]>();
	/** Given their turn and about to load: they hold their group before their state says so. */
	readonly #admitted = new Set<FleetModel>();
	/** Models whose next turn is the operator's order. */
	readonly #ordered = new Set<FleetModel>();
	/** Per group, when a residency ends and the first waiting model may swap its holder out. */
	readonly #timers = new Map<string, Timer>();
	#pumpQueued = false;

	constructor(private readonly host: GroupHost) {}

	/** Resolves true when the model may start, false when it may not (cancelled, or kept out by a pinned member). */
	async admit(model: FleetModel): Promise<boolean> {
		const {group} = model.config;
		// Kept for its restart (see keep): the turn is its already.
		if (group === undefined || this.#admitted.has(model)) {
			return true;
		}

		return new Promise(resolve => {
			const ordered = this.#ordered.delete(model);
			const queue = this.#queue(group);
			const admission = {model, ordered, resolve};
			if (ordered) {
				queue.unshift(admission);
			} else {
				queue.push(admission);
			}

			this.#pump(group);
		});
	}

	/** The operator's order: the model's turn comes first, and the other members of its group are stopped now. */
	order(model: FleetModel): void {
		const {group} = model.config;
		if (group === undefined) {
			return;
		}

		const queue = this.#queue(group);
		const index = queue.findIndex(admission => admission.model === model);
		if (index === -1) {
			// For the admission its start is about to ask for.
			this.#ordered.add(model);
			return;
		}

		const [admission] = queue.splice(index, 1);
		queue.unshift({...admission!, ordered: true});
		this.#pump(group);
	}

	/** Withdraws the model's request for a turn, if it has one (the operator stopped it, or it was removed). */
	cancel(model: FleetModel): void {
		this.#ordered.delete(model);
		this.#admitted.delete(model);
		for (const [group, queue] of this.#queues) {
			const index = queue.findIndex(admission => admission.model === model);
			if (index !== -1) {
				queue.splice(index, 1)[0]!.resolve(false);
				this.#pump(group);
			}
		}
	}

	/** Withdraws every request for a turn; switchboard is shutting down. */
	cancelAll(): void {
		for (const [group, queue] of this.#queues) {
			this.#clearTimer(group);
			for (const admission of queue.splice(0)) {
				admission.resolve(false);
			}
		}

		this.#ordered.clear();
		this.#admitted.clear();
	}

	/** Whether the model waits for its turn. */
	waiting(model: FleetModel): boolean {
		return [...this.#queues.values()].some(queue => queue.some(admission => admission.model === model));
	}

	/** Keeps the model's group for it while it restarts: nobody else gets the turn between its stop and its start. */
	keep(model: FleetModel): void {
		this.#admitted.add(model);
	}

	/** Its restart will not start it after all (see keep): the group goes to the next in line. */
	release(model: FleetModel): void {
		if (this.#admitted.delete(model)) {
			this.changed();
		}
	}

	/**
	 * A model changed state (or a group changed): a turn may be free. Looked at once the current
	 * event has reached everyone. A model that began loading holds its group by its state from now on.
	 */
	changed(model?: string, state?: string): void {
		if (state === 'loading') {
			for (const admitted of this.#admitted) {
				if (admitted.name === model) {
					this.#admitted.delete(admitted);
				}
			}
		}

		if (this.#pumpQueued) {
			return;
		}

		this.#pumpQueued = true;
		queueMicrotask(() => {
			this.#pumpQueued = false;
			for (const group of this.#queues.keys()) {
				this.#pump(group);
			}
		});
	}

	/**
	 * The members holding the group: loading, serving or stopping, about to load, or whose backends'
	 * processes are not gone yet (a failed model too: its GPU memory is freed only when they are).
	 */
	#holders(group: string): FleetModel[] {
		return [...this.host.models()].filter(model => model.config.group === group && model.config.launcher !== 'static'
			&& (this.#admitted.has(model) || holdingStates.has(model.state) || model.leaving));
	}

	/** Gives turns in order while the group is free; otherwise makes room for the first in line, or waits. */
	#pump(group: string): void {
		this.#clearTimer(group);
		const queue = this.#queue(group);
		while (queue.length > 0) {
			const first = queue[0]!;
			const others = this.#holders(group).filter(model => model !== first.model);
			if (others.length === 0) {
				queue.shift();
				this.#admitted.add(first.model);
				first.resolve(true);
				continue;
			}

			if (!this.#makeRoom(group, first, others)) {
				// A pinned member holds the group: waiting would last until the requests time out.
				queue.shift();
				first.resolve(false);
				continue;
			}

			break;
		}

		if (queue.length === 0) {
			this.#queues.delete(group);
		}
	}

	/**
	 * Swaps out the holders the first in line may displace: all of them on the operator's order,
	 * otherwise those ready for at least their min_residency (a loading or stopping one is waited for).
	 * Wakes up when the next residency ends. False when a pinned member keeps the group.
	 */
	#makeRoom(group: string, first: Admission, holders: FleetModel[]): boolean {
		const {clock} = this.host;
		const now = clock.now();
		const wanted = first.model.name;
		if (first.ordered) {
			for (const holder of holders) {
				if (isUp(holder.state)) {
					this.host.evict(holder, `stopped by the operator to switch group ${group} to ${wanted}`);
				}
			}

			return true;
		}

		const ready = holders.filter(holder => holder.state === 'ready' && !this.#admitted.has(holder));
		if (ready.some(holder => this.host.pinnedOn(holder))) {
			return false;
		}

		let nextEnd = Number.POSITIVE_INFINITY;
		for (const holder of ready) {
			const readyAt = holder.snapshot().readyAt ?? now;
			const residencyEnd = readyAt + holder.config.minResidencyMs;
			if (residencyEnd <= now) {
				this.host.evict(holder, `swapped out for ${wanted} (group ${group}) after ${formatDuration(now - readyAt)} of use`);
			} else {
				nextEnd = Math.min(nextEnd, residencyEnd);
			}
		}

		if (nextEnd !== Number.POSITIVE_INFINITY) {
			this.#timers.set(group, clock.setTimeout(() => {
				this.#timers.delete(group);
				this.#pump(group);
			}, nextEnd - now));
		}

		return true;
	}

	#queue(group: string): Admission[] {
		let queue = this.#queues.get(group);
		if (!queue) {
			queue = [];
			this.#queues.set(group, queue);
		}

		return queue;
	}

	#clearTimer(group: string): void {
		const timer = this.#timers.get(group);
		if (timer) {
			this.host.clock.clearTimeout(timer);
			this.#timers.delete(group);
		}
	}
}
