/** A scraped counter's value and when it was read (ms, any clock that only moves forward). */
export type CounterReading = {readonly value: number; readonly atMs: number};

/**
 * How much a counter grew between two readings. A smaller newer value means the backend
 * restarted and counted again from 0, so what it counts now is all that is known to be new.
 */
export function counterIncrease(newer: number, older: number): number {
	return newer < older ? newer : newer - older;
}

/** Growth per second between two readings (tokens/s from the token counters); undefined unless time moved on. */
export function counterRate(newer: CounterReading, older: CounterReading): number | undefined {
	const elapsedMs = newer.atMs - older.atMs;
	if (!(elapsedMs > 0)) {
		return undefined;
	}

	return (counterIncrease(newer.value, older.value) * 1000) / elapsedMs;
}
