/** A pending callback that can be cancelled, or told not to keep the process alive. */
export interface ScheduledTimer {
	cancel(): void;
	unref(): void;
}

/**
 * Time source for the simulator. Injected so tests can drive generation without
 * real waiting; production code uses {@link systemClock}.
 */
export interface SimClock {
	/** Milliseconds from an arbitrary origin that never goes backwards; used for durations. */
	monotonicMs(): number;
	/** Milliseconds since the Unix epoch; used for `created` fields and log stamps. */
	wallMs(): number;
	schedule(callback: () => void, delayMs: number): ScheduledTimer;
}

export const systemClock: SimClock = {
	monotonicMs: () => performance.now(),
	wallMs: () => Date.now(),
	schedule(callback, delayMs) {
		const handle = setTimeout(callback, delayMs);
		return {
			cancel: () => clearTimeout(handle),
			unref: () => {
				handle.unref();
			},
		};
	},
};

export function sleep(clock: SimClock, delayMs: number): Promise<void> {
	return new Promise((resolve) => {
		clock.schedule(resolve, delayMs);
	});
}
