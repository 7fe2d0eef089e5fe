import assert from 'node:assert/strict';
import {stripVTControlCharacters} from 'node:util';
import {describe, it} from 'node:test';
import stringWidth from 'string-width';
import {models, sampleFleet, type FakeModel} from '../helpers/console-link.js';
import {consoleScreens, keys, type ConsoleScreen} from '../helpers/render-console.js';

type Screen = ConsoleScreen;

const open = consoleScreens();

/** Every line as written (colours left out, spaces kept) is at most `columns` wide; there are `rows` lines, the keys on the last. */
function assertFits(screen: Screen, columns: number, rows: number, what: string): void {
	const written = stripVTControlCharacters(screen.raw()).split('\n');
	for (const [index, line] of written.entries()) {
		assert.ok(stringWidth(line) <= columns, `${what}: line ${index + 1} is ${stringWidth(line)} columns wide:\n${line}`);
	}

	assert.equal(written.length, rows, `${what}: ${written.length} lines\n${screen.frame()}`);
	assert.match(screen.lines().at(-1)!, /^↑↓ j k \w+ .* \? help q quit$/, `${what}: the keys are on the last line\n${screen.frame()}`);
}

/** A fleet with long names, long log lines and wide characters: what could push a line past the edge. */
function crowded(now: number): FakeModel[] {
	return [
		...sampleFleet(now),
		models.ready('meta-llama/Llama-3.3-70B-Instruct-FP8-dynamic', {readyAt: now - 90_000, port: 8103, pid: 4103, idleStopAt: now + 40_000, metrics: {
			requests_per_second: 12_345, generation_tokens_per_second: 98_765, latency_p50_ms: 123_456, latency_p95_ms: 7_654_321, errors: 123_456,
		}}),
		models.failed('Qwen/通义千问-72B-对话', 'exited with code 137: killed (out of memory?) after 3 crashes in 10 minutes'),
	];
}

describe('80×24', () => {
	it('no line is wider than the terminal, the keys stay on the last line, in every view', async () => {
		const screen = await open({models: crowded, columns: 80, rows: 24, ownLog: [
			`12:00:01.000 WARN  [fleet] ${'a very long warning that goes on and on '.repeat(8)}`,
			'12:00:02.000 INFO  [fleet] 模型已加载完成，等待请求 🚀 模型已加载完成，等待请求 🚀 模型已加载完成，等待请求 🚀 模型已加载完成',
		]});
		for (let line = 0; line < 40; line++) {
			screen.link.emit({type: 'log', model: 'mistral-7b', line: `INFO 05-12 12:00:${line} [metrics.py:341] Avg prompt throughput: 1234.5 tokens/s, Avg generation throughput: 812.4 tokens/s, Running: 3 reqs`, at: screen.clock.now()});
		}

		await screen.wait(2000);
		assertFits(screen, 80, 24, 'the table and the logs');
		await screen.press('j', 'j', keys.enter);
		assertFits(screen, 80, 24, 'details');
		for (let row = 0; row < 4; row++) {
			await screen.press('j');
		}

		assert.ok(screen.lines().some(line => line.startsWith('── meta-llama/Llama-3.3-70B-Instruct-FP8-dynamic #0 · details')), screen.frame());
		assertFits(screen, 80, 24, 'details of a long name');
		await screen.press('j');
		assertFits(screen, 80, 24, 'details of a wide name');
		await screen.press(keys.enter, '?');
		assertFits(screen, 80, 24, 'help');
		await screen.press(keys.escape, 'q');
		assert.match(screen.statusLine(), /^Quit and stop /);
		assertFits(screen, 80, 24, 'the quit question');
		await screen.press('n', 't', 'not a duration\r');
		assertFits(screen, 80, 24, 'a refused idle timeout');
		await screen.press(keys.escape, '/', 'x'.repeat(120));
		assertFits(screen, 80, 24, 'a long filter being typed');
		await screen.press(keys.escape);
		screen.link.refusal = {status: 409, message: `The model is busy: ${'it says so at length; '.repeat(12)}`, type: 'invalid_request_error'};
		await screen.press('s');
		assert.match(screen.statusLine(), /^The model is busy: /);
		assertFits(screen, 80, 24, 'a long error');
	});

	it('keeps to a terminal resized narrower, and uses the room of a wider one', async () => {
		const screen = await open({models: crowded, columns: 130, rows: 40});
		assertFits(screen, 130, 40, '130×40');
		assert.match(screen.lines()[1]!, / LAUNCH /);
		await screen.resize(80, 24);
		await screen.wait(100);
		assertFits(screen, 80, 24, 'resized to 80×24');
		assert.doesNotMatch(screen.lines()[1]!, / LAUNCH /);
	});
});

describe('20 backends', () => {
	const twenty = (now: number) => Array.from({length: 20}, (_, index) => models.ready(`model-${String(index).padStart(2, '0')}`, {readyAt: now - 1000, port: 8200 + index, pid: 5200 + index}));
	const rowsShown = (screen: Screen) => screen.lines().filter(line => /^model-\d\d +0 /.test(line)).map(line => line.slice(0, 8));

	it('shows the rows that fit and scrolls them with the selection', async () => {
		const screen = await open({models: twenty, columns: 80, rows: 24});
		const first = rowsShown(screen);
		assert.ok(first.length >= 5 && first.length < 20, `${first.length} rows shown`);
		assert.equal(first[0], 'model-00');
		assertFits(screen, 80, 24, 'first rows');

		for (let row = 0; row < 15; row++) {
			await screen.press('j');
		}

		const shown = rowsShown(screen);
		assert.ok(shown.includes('model-15'), `model-15 is in view: ${shown.join(' ')}`);
		assert.ok(!shown.includes('model-00'), 'the first rows scrolled away');
		assert.equal(shown.length, first.length);
		assertFits(screen, 80, 24, 'scrolled');
		await screen.press('x', 'y');
		assert.deepEqual(screen.commands(), ['POST /models/model-15/stop']);

		for (let row = 0; row < 10; row++) {
			await screen.press(keys.down);
		}

		assert.equal(rowsShown(screen).at(-1), 'model-19', 'the last row is as far as it goes');
		await screen.press(keys.pageUp, keys.pageUp, keys.pageUp);
		assert.equal(rowsShown(screen)[0], 'model-00');
		await screen.press(keys.pageDown);
		assert.ok(!rowsShown(screen).includes('model-00'), 'page down moves a page');
	});
});
