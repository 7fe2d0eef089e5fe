import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {KeyChecker} from '../../source/dataplane/auth.js';
import {endToEndHeaders} from '../../source/dataplane/headers.js';
import {HoldQueue} from '../../source/dataplane/hold-queue.js';
import {keyDigest} from '../../source/util/hash.js';

describe('api keys', () => {
	const table = (keys: string[]) => ({required: keys.length > 0, grants: keys.map(key => ({digest: keyDigest(key), user: undefined, models: undefined, admin: true}))});

	it('accepts any request when no key is configured', () => {
		assert.ok(new KeyChecker(table([])).check(undefined));
	});

	it('accepts exactly the configured bearer keys, scheme in any case', () => {
		const keys = new KeyChecker(table(['alpha', 'beta']));
		assert.ok(keys.check('Bearer alpha'));
		assert.ok(keys.check('bearer beta'));
		assert.equal(keys.check('Bearer alph'), undefined);
		assert.equal(keys.check('Bearer alphaa'), undefined);
		assert.equal(keys.check('Basic alpha'), undefined);
		assert.equal(keys.check('alpha'), undefined);
		assert.equal(keys.check(undefined), undefined);
	});
});

describe('hop-by-hop headers', () => {
	it('drops connection-specific headers and those Connection names', () => {
		const forwarded = endToEndHeaders({
			host: 'switchboard:8100',
			connection: 'keep-alive, x-trace',
			'keep-alive': 'timeout=5',
			'x-trace': '1',
			'transfer-encoding': 'chunked',
			'content-type': 'application/json',
			authorization: 'Bearer k',
		});
		assert.deepEqual(forwarded, {'content-type': 'application/json', authorization: 'Bearer k'});
	});
});

describe('hold queue', () => {
	it('is bounded, first in first out, and expires waiters', async () => {
		const expired: string[] = [];
		const waiter = (name: string) => ({name, expire: () => expired.push(name)});
		const queue = new HoldQueue<ReturnType<typeof waiter>>(2);
		const a = waiter('a');
		const b = waiter('b');
		assert.equal(queue.push(a, 60_000), true);
		assert.equal(queue.push(b, 1), true);
		assert.equal(queue.push(waiter('c'), 60_000), false, 'full');
		await new Promise(resolve => setTimeout(resolve, 20));
		assert.deepEqual(expired, ['b']);
		assert.equal(queue.size, 1);
		queue.remove(a);
		assert.equal(queue.size, 0);
		queue.push(a, 60_000);
		queue.push(b, 60_000);
		assert.deepEqual(queue.take().map(entry => entry.name), ['a', 'b']);
		assert.equal(queue.size, 0);
	});
});
