import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {describe, it} from 'node:test';
import {LineSplitter} from '../../source/launchers/line-splitter.js';
import {listenerInGroup} from '../../source/launchers/port-owner.js';

describe('port owner', () => {
	it('tells whether a listening socket belongs to a process group', async () => {
		const child = spawn(process.execPath, ['-e', `
			const server = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log(server.address().port));
		`], {detached: true, stdio: ['ignore', 'pipe', 'inherit']});
		try {
			const [chunk] = await once(child.stdout!, 'data') as [Buffer];
			const port = Number(chunk.toString());
			assert.equal(listenerInGroup(port, child.pid!), true);
			assert.equal(listenerInGroup(port, process.pid), false);
		} finally {
			child.kill();
		}
	});
});

describe('line splitter', () => {
	it('keeps characters and CRLF split across reads whole, and ends lines at a bare CR', () => {
		const lines: string[] = [];
		const splitter = new LineSplitter(line => lines.push(line));
		const text = Buffer.from('héllo\r');
		splitter.push(text.subarray(0, 2));
		splitter.push(text.subarray(2));
		splitter.push(Buffer.from('\nloading 10%\rloading 20%\rdone'));
		splitter.flush();
		assert.deepEqual(lines, ['héllo', 'loading 10%', 'loading 20%', 'done']);
	});
});
