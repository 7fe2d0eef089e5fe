import type {Clock, Timer} from '../../source/util/clock.js';

interface Scheduled extends Timer {
	at: number;
	callback: () => void;
}

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
	#now = 1_700_000_000_000;
	#timers: Scheduled[] = [];

	now(): number {
		return this.#now;
	}

	setTimeout(callback: () => void, ms: number): Timer {
		const timer = {at: this.#now + ms, callback};
		this.#timers.push(timer);
		return timer;
	}

	clearTimeout(timer: Timer): void {
		this.#timers = this.#timers.filter(scheduled => scheduled !== timer);
	}

	/** Moves time forward, firing due timers in order; awaits the microtasks each one starts. */
	async advance(ms: number): Promise<void> {
		const target = this.#now + ms;
		for (;;) {
			const next = this.#timers.filter(timer => timer.at <= target).sort((a, b) => a.at - b.at)[0];
			if (!next) {
				break;
			}

			this.#timers = this.#timers.filter(timer => timer !== next);
			this.#now = next.at;
			next.callback();
			await settle();
		}

		this.#now = target;
		await settle();
	}

	get pending(): number {
		return this.#timers.length;
	}
}

export async function settle(): Promise<void> {
	for (let i = 0; i < 10; i++) {
		await new Promise(resolve => setImmediate(resolve));
	}
}
