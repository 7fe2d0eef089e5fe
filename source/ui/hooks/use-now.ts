import {useEffect, useState} from 'react';
import type {Clock} from '../../util/clock.js';

/**
 * The time, moving on every `ms` (countdowns and elapsed times), or not at all when `ms` is undefined
 * (nothing on screen depends on it): the console redraws only when something shown changes.
 */
export function useNow(clock: Clock, ms: number | undefined): number {
	const [now, setNow] = useState(() => clock.now());
	useEffect(() => {
		if (ms === undefined) {
			return;
		}

		const timer = clock.setTimeout(() => {
			setNow(clock.now());
		}, ms - (clock.now() % ms));
		return () => {
			clock.clearTimeout(timer);
		};
	}, [clock, ms, now]);
	return now;
}
