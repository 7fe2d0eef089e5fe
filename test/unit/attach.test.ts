import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {openAttach} from '../../source/attach.js';
import {ConfigError} from '../../source/config/errors.js';

async function refusal(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
	const error = await openAttach(argv, env).then(() => undefined, (error: unknown) => error);
	assert.ok(error instanceof ConfigError, `a ConfigError for ${argv.join(' ')}: ${String(error)}`);
	return error.message;
}

describe('openAttach, its arguments', () => {
	it('wants one address', async () => {
		assert.match(await refusal([]), /^Attach to which switchboard\? Give its address: switchboard attach http:\/\/127\.0\.0\.1:8080\.$/);
		assert.match(await refusal(['127.0.0.1:1', '127.0.0.1:2']), /^Attach takes one address, not `127\.0\.0\.1:1 127\.0\.0\.1:2`\.$/);
	});

	it('takes http and https addresses without a path; a bare host:port is http', async () => {
		assert.match(await refusal(['ftp://127.0.0.1:21']), /^Attach over http or https, not ftp \(got `ftp:\/\/127\.0\.0\.1:21`\)\.$/);
		for (const address of ['http://127.0.0.1:8080/status', 'http://127.0.0.1:8080/?x=1', 'http://ada:pw@127.0.0.1:8080']) {
			assert.match(await refusal([address]), /^Give switchboard's address alone, such as http:\/\/127\.0\.0\.1:8080 or 127\.0\.0\.1:8080, without a path, query or user \(got `.*`\); a key goes in --admin-key\.$/, address);
		}

		assert.match(await refusal(['http://[::1']), /^`http:\/\/\[::1` is not an address to attach to; give one such as /);
		assert.match(await refusal(['127.0.0.1:0']), /^cannot reach http:\/\/127\.0\.0\.1:0: /, 'read as http, then tried');
	});

	it('refuses unknown flags and empty keys in its own words', async () => {
		assert.equal(await refusal(['127.0.0.1:1', '--port', '1']), 'Unknown flag --port. `switchboard attach --help` lists them.');
		assert.equal(await refusal(['127.0.0.1:1', '--admin-key']), '--admin-key needs a key: --admin-key K.');
		assert.match(await refusal(['127.0.0.1:1', '--admin-key=']), /^--admin-key is empty \(an unset variable\?\)/);
		assert.match(await refusal(['127.0.0.1:1'], {SWITCHBOARD_ADMIN_KEY: ''}), /^SWITCHBOARD_ADMIN_KEY is empty/);
	});
});
