import {createHash} from 'node:crypto';

/** FNV-1a, 32 bits: a cheap, well-spread hash of a short string (a URL, a session id). */
export function hashString(text: string): number {
	let hash = 0x81_1C_9D_C5;
	for (let index = 0; index < text.length; index++) {
		hash ^= text.charCodeAt(index);
		hash = Math.imul(hash, 0x01_00_01_93);
	}

	return hash >>> 0;
}

/** Mixes two hashes into one (murmur3's finaliser), for rendezvous hashing of a session over backends. */
export function mixHashes(a: number, b: number): number {
	let hash = (a ^ Math.imul(b, 0x9E_37_79_B1)) >>> 0;
	hash ^= hash >>> 16;
	hash = Math.imul(hash, 0x85_EB_CA_6B);
	hash ^= hash >>> 13;
	hash = Math.imul(hash, 0xC2_B2_AE_35);
	hash ^= hash >>> 16;
	return hash >>> 0;
}

/** The SHA-256 of an API key, hex: how keys are kept and looked up (never the key itself). */
export function keyDigest(key: string): string {
	return createHash('sha256').update(key).digest('hex');
}
