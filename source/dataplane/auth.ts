import {modelMatcher, type ModelMatcher} from '../config/model-patterns.js';
import {keyDigest} from '../util/hash.js';
import type {KeyTable} from './protocol.js';

/** What a request's key lets it do. */
export interface Access {
	/** Shown in request logs instead of the key. */
	readonly user: string | undefined;
	readonly admin: boolean;
	readonly allows: ModelMatcher;
}

/** Everyone's access when no key is configured. */
const everything: Access = {user: undefined, admin: true, allows: () => true};

/**
 * Checks `Authorization: Bearer <key>`. Keys are looked up by their SHA-256 digest: one hash and one
 * map lookup per request however many users there are, and what the lookup's timing could tell is
 * about a digest, from which no key can be worked back.
 */
export class KeyChecker {
	#required = false;
	#grants = new Map<string, Access>();

	constructor(table: KeyTable) {
		this.update(table);
	}

	update(table: KeyTable): void {
		this.#required = table.required;
		// The matcher is built here, once, so a request does a set lookup.
		this.#grants = new Map(table.grants.map(grant => [grant.digest, {user: grant.user, admin: grant.admin, allows: modelMatcher(grant.models)}]));
	}

	/** What the request's key allows, or undefined when it has no key or a wrong one. */
	check(authorization: string | undefined): Access | undefined {
		if (!this.#required) {
			return everything;
		}

		const key = bearerToken(authorization);
		if (key === undefined) {
			return undefined;
		}

		return this.#grants.get(keyDigest(key));
	}
}

function bearerToken(authorization: string | undefined): string | undefined {
	if (!authorization || authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') {
		return undefined;
	}

	return authorization.slice(7).trim();
}
