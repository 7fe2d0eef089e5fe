import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {KeyChecker} from '../../source/dataplane/auth.js';
import {endToEndHeaders} from '../../source/dataplane/headers.js';
import {HoldQueue} from '../../source/dataplane/hold-queue.js';

describe('api keys', () => {
	it('accepts any request when no key is configured', () => {
		assert.equal(new KeyChecker([]).accepts(undefined), true);
	});

	it('accepts exactly the configured bearer keys, scheme in any case', () => {
		const keys = new KeyChecker(['alpha', 'beta']);
		assert.equal(keys.accepts('Bearer alpha'), true);
		assert.equal(keys.accepts('bearer beta'), true);
		assert.equal(keys.accepts('Bearer alph'), false);
		assert.equal(keys.accepts('Bearer alphaa'), false);
		assert.equal(keys.accepts('Basic alpha'), false);
		assert.equal(keys.accepts('alpha'), false);
		assert.equal(keys.accepts(undefined), false);
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
