import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {appendFileSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync, writeSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describe, it} from 'node:test';
import {LineSplitter} from '../../source/launchers/line-splitter.js';
import {backendLogPath, pruneLogs} from '../../source/launchers/log-files.js';
import {LogFollower} from '../../source/launchers/log-follower.js';
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

describe('backend log files', () => {
	const directory = () => mkdtempSync(path.join(os.tmpdir(), 'switchboard-logs-'));
	const hour = 3_600_000;

	it('keeps the newest files of the model started, with their rotated copies, and never one in use', () => {
		const logs = directory();
		const write = (file: string, hoursAgo: number) => {
			writeFileSync(file, 'output\n');
			const time = new Date(Date.now() - hoursAgo * hour);
			utimesSync(file, time, time);
			return path.basename(file);
		};

		const start = (model: string, hoursAgo: number, port: number) => write(backendLogPath(logs, model, Date.UTC(2025, 0, 1) - hoursAgo * hour, port), hoursAgo);
		const oldest = start('qwen/8b', 5, 8101);
		write(path.join(logs, `${oldest}.1`), 5);
		const running = start('qwen/8b', 4, 8102);
		start('qwen/8b', 3, 8101);
		const second = start('qwen/8b', 2, 8101);
		const other = start('qwen/8b-instruct', 9, 8103);
		const notes = write(path.join(logs, 'notes.txt'), 9);
		const newest = start('qwen/8b', 0, 8101);
		assert.match(newest, /^qwen_8b-2025-01-01T00-00-00-8101\.log$/);
		assert.deepEqual(pruneLogs(path.join(logs, newest), 2, new Set([path.join(logs, running)])), []);
		assert.deepEqual(readdirSync(logs).sort(), [running, second, other, notes, newest].sort(),
			'the newest two of qwen/8b stay, and an older one its backend still writes to; other models and other files are left alone');
		assert.deepEqual(pruneLogs(path.join(logs, newest), 0, new Set()), [], '0 keeps every file');
		assert.equal(readdirSync(logs).length, 5);
	});

	it('follows a file that is emptied, and rotates one that grows past its limit', () => {
		const file = path.join(directory(), 'm.log');
		const backend = openSync(file, 'a');
		const lines: string[] = [];
		const follower = new LogFollower(file, 0, line => lines.push(line), 60_000, 100);
		try {
			writeSync(backend, 'one\ntwo\n');
			follower.poll();
			truncateSync(file, 0);
			writeSync(backend, 'three\n');
			follower.poll();
			assert.deepEqual(lines, ['one', 'two', 'three'], 'a file emptied by someone else is read from its new start');

			const long = `${'x'.repeat(90)}\n`;
			writeSync(backend, long);
			writeSync(backend, 'part');
			follower.poll();
			assert.equal(readFileSync(`${file}.1`, 'utf8'), `three\n${long}part`, 'past 100 bytes, the file is copied aside');
			assert.equal(readFileSync(file, 'utf8'), '', 'and emptied');
			writeSync(backend, 'ial\nafter\n');
			follower.poll();
			assert.equal(readFileSync(file, 'utf8'), 'ial\nafter\n', 'the backend writes on at the new end');
			appendFileSync(file, 'last words');
		} finally {
			follower.close();
			closeSync(backend);
		}

		assert.deepEqual(lines.slice(3), ['x'.repeat(90), `switchboard: the log file passed 100 bytes; what came before is in ${file}.1`, 'partial', 'after', 'last words'], 'the lines read miss nothing, and one cut by the rotation is whole');
	});
});
