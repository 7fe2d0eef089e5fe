/** Deterministic pseudo-random numbers: `--seed` must make fault injection reproducible. */
export type RandomSource = () => number;

/** Mulberry32: tiny, fast and good enough for picking which requests fail. Returns [0, 1). */
export function seededRandom(seed: number): RandomSource {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** A stable fingerprint (FNV-1a) so equal prompts get equal answers. */
export {hashString as fingerprint} from '../util/hash.js';
