import type {ServerConfig, UserKey} from '../config/types.js';
import {keyDigest} from '../util/hash.js';
import type {KeyGrant, KeyTable} from '../dataplane/protocol.js';

/**
 * The data plane's key table from every source of keys. Admin are the admin keys; without
 * one, every key that may use every model (so a fleet with only api_keys keeps working as it
 * did); without any key, everyone. A key given in several places gets what each one grants.
 */
export function keyTable(server: ServerConfig, fileKeys: readonly UserKey[]): KeyTable {
	const everyModelIsAdmin = server.adminKeys.length === 0;
	const grants = new Map<string, KeyGrant>();
	const add = (key: string, user: string | undefined, models: string[] | undefined, admin: boolean) => {
		const digest = keyDigest(key);
		const known = grants.get(digest);
		grants.set(digest, known ? {
			digest,
			user: known.user ?? user,
			models: known.models === undefined || models === undefined ? undefined : [...new Set([...known.models, ...models])],
			admin: known.admin || admin,
		} : {digest, user, models, admin});
	};

	for (const key of server.adminKeys) {
		add(key, undefined, undefined, true);
	}

	for (const key of server.apiKeys) {
		add(key, undefined, undefined, everyModelIsAdmin);
	}

	for (const entry of [...server.keys, ...fileKeys]) {
		add(entry.key, entry.user, entry.models, everyModelIsAdmin && entry.models === undefined);
	}

	// A keys file turns authentication on even while it holds no key: emptying it must lock
	// everyone out, not let everyone in.
	return {required: grants.size > 0 || server.keysFile !== undefined, grants: [...grants.values()]};
}
