import {createHash, timingSafeEqual} from 'node:crypto';

/** vLLM's AuthenticationMiddleware only guards these; /health, /metrics, /version and /ping stay open. */
const GUARDED_PREFIXES = ['/v1', '/v2', '/inference'];

function digest(text: string): Buffer {
	return createHash('sha256').update(text, 'utf8').digest();
}

/** `--api-key` checking as vLLM does it: Bearer scheme in any case, keys compared in constant time. */
export class ApiKeyGuard {
	private readonly keyDigests: Buffer[];

	constructor(apiKeys: readonly string[]) {
		this.keyDigests = apiKeys.map(digest);
	}

	/** True when the request must be refused with 401. */
	rejects(method: string | undefined, path: string, authorization: string | undefined): boolean {
		if (this.keyDigests.length === 0 || method === 'OPTIONS') return false;
		if (!GUARDED_PREFIXES.some((prefix) => path.startsWith(prefix))) return false;
		return !this.accepts(authorization);
	}

	private accepts(authorization: string | undefined): boolean {
		if (!authorization) return false;
		const space = authorization.indexOf(' ');
		const scheme = space === -1 ? authorization : authorization.slice(0, space);
		if (scheme.toLowerCase() !== 'bearer') return false;
		// Hashing first gives equal-length buffers, so the comparison time reveals nothing about the key.
		const presented = digest(space === -1 ? '' : authorization.slice(space + 1));
		let match = false;
		for (const key of this.keyDigests) match = timingSafeEqual(presented, key) || match;
		return match;
	}
}
