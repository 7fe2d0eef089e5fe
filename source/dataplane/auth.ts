import {createHash, timingSafeEqual} from 'node:crypto';

/**
 * Checks `Authorization: Bearer <key>` in constant time. Keys are compared as SHA-256
 * digests so neither the length nor the content of a configured key leaks through timing.
 */
export class KeyChecker {
	readonly #digests: Buffer[];

	constructor(keys: readonly string[]) {
		this.#digests = keys.map(key => digest(key));
	}

	get enabled(): boolean {
		return this.#digests.length > 0;
	}

	accepts(authorization: string | undefined): boolean {
		if (!this.enabled) {
			return true;
		}

		const key = bearerToken(authorization);
		if (key === undefined) {
			return false;
		}

		const candidate = digest(key);
		let match = false;
		for (const known of this.#digests) {
			// No early exit: every configured key is compared.
			match = timingSafeEqual(candidate, known) || match;
		}

		return match;
	}
}

function bearerToken(authorization: string | undefined): string | undefined {
	if (!authorization || authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') {
		return undefined;
	}

	return authorization.slice(7).trim();
}

function digest(key: string): Buffer {
	return createHash('sha256').update(key).digest();
}
