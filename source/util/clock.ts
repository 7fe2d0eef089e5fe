/**
 * Time as the state machines see it. Injected so lifecycle logic is tested without sleeping.
 */
export interface Clock {
	now(): number;
	setTimeout(callback: () => void, ms: number): Timer;
	clearTimeout(timer: Timer): void;
}

export interface Timer {
	unref?(): unknown;
}

export const systemClock: Clock = {
	now: () => Date.now(),
	setTimeout: (callback, ms) => setTimeout(callback, ms),
	clearTimeout(timer) {
		clearTimeout(timer as NodeJS.Timeout);
	},
};
