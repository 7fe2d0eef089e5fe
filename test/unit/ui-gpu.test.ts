import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {fileURLToPath} from 'node:url';
import {createElement} from 'react';
import stringWidth from 'string-width';
import {gpuStripLines, shortName} from '../../source/ui/format/gpu-strip.js';
import {findNvidiaSmi, GpuWatch, nvidiaSmiArguments, nvidiaSmiRunner, parseGpuQuery, type GpuPoll, type GpuReading} from '../../source/ui/gpu/nvidia-smi.js';
import {ColorContext, type Cell} from '../../source/ui/theme.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {isAlive, until} from '../helpers/switchboard-process.js';

// Ink's chalk decides on colour when loaded, and a test's stdout is no terminal.
process.env['FORCE_COLOR'] = '1';
const {render} = await import('ink-testing-library');
const {GpuStrip, gpuStrip} = await import('../../source/ui/components/gpu-strip.js');

const fakeBin = fileURLToPath(new URL('../fixtures/bin', import.meta.url));
const root = mkdtempSync(path.join(os.tmpdir(), 'switchboard-gpu-'));
after(() => {
	rmSync(root, {recursive: true, force: true});
});

const a100 = (index: number, utilization: number, usedMiB: number): GpuReading =>
	({index: String(index), name: 'NVIDIA A100-SXM4-80GB', utilizationPercent: utilization, memoryUsedMiB: usedMiB, memoryTotalMiB: 81_920});
const eight = [87, 0, 95, 40, 100, 3, 0, 61].map((utilization, index) => a100(index, utilization, [62_464, 4, 80_000, 30_000, 81_000, 1000, 0, 50_000][index]!));
const holders = new Map([['0', 'chat#0'], ['2', 'chat#1'], ['4', 'embed#0'], ['7', 'coder#0']]);
const text = (line: readonly Cell[]) => line.map(cell => cell.text).join('');

test('nvidia-smi query: one GPU a line, numbers it could not read undefined', () => {
	assert.deepEqual(parseGpuQuery('0, NVIDIA A100-SXM4-80GB, 87, 62464, 81920\n1, Tesla T4, [N/A], [Not Supported], 15360\n'), [
		{index: '0', name: 'NVIDIA A100-SXM4-80GB', utilizationPercent: 87, memoryUsedMiB: 62_464, memoryTotalMiB: 81_920},
		{index: '1', name: 'Tesla T4', utilizationPercent: undefined, memoryUsedMiB: undefined, memoryTotalMiB: 15_360},
	]);
});

test('nvidia-smi query: CRLF, blank lines, extra spaces and stray lines', () => {
	const text = '\r\n  0 ,  NVIDIA H100 80GB HBM3 ,  5 ,  1024 , 81559  \r\n\r\nUnable to determine the device handle for GPU 0000:3B:00.0\r\n1, NVIDIA H100 80GB HBM3, 0, 0, 81559\r\n';
	const readings = parseGpuQuery(text);
	assert.deepEqual(readings.map(reading => [reading.index, reading.name, reading.utilizationPercent]), [['0', 'NVIDIA H100 80GB HBM3', 5], ['1', 'NVIDIA H100 80GB HBM3', 0]]);
	assert.deepEqual(parseGpuQuery(''), []);
});

test('nvidia-smi query: eight GPUs', () => {
	const text = eight.map(gpu => `${gpu.index}, ${gpu.name}, ${gpu.utilizationPercent}, ${gpu.memoryUsedMiB}, ${gpu.memoryTotalMiB}`).join('\n');
	assert.deepEqual(parseGpuQuery(text), eight);
});

test('GPU names lose the vendor, and then all but the model', () => {
	assert.equal(shortName('NVIDIA A100-SXM4-80GB', 'long'), 'A100-SXM4-80GB');
	assert.equal(shortName('NVIDIA A100-SXM4-80GB', 'short'), 'A100');
	assert.equal(shortName('NVIDIA H100 80GB HBM3', 'short'), 'H100');
	assert.equal(shortName('Tesla V100-SXM2-32GB', 'short'), 'V100');
	assert.equal(shortName('NVIDIA GeForce RTX 4090', 'short'), '4090');
	assert.equal(shortName('NVIDIA RTX A6000', 'short'), 'A6000');
});

test('GPU strip: fits the width in at most two lines, every GPU and holder shown', () => {
	for (const width of [80, 120, 160]) {
		for (const count of [1, 2, 4, 8]) {
			const readings = eight.slice(0, count);
			const lines = gpuStripLines(readings, holders, width);
			const shown = lines.map(line => text(line)).join('\n');
			assert.ok(lines.length >= 1 && lines.length <= 2, `${count} GPUs at ${width}: ${lines.length} lines`);
			for (const line of lines) {
				assert.ok(stringWidth(text(line)) <= width, `${count} GPUs at ${width}: ${text(line)}`);
			}

			for (const reading of readings) {
				assert.match(shown, new RegExp(`\\b(GPU)?${reading.index} .*${reading.utilizationPercent}%`), `${count} GPUs at ${width}: GPU ${reading.index}`);
				const holder = holders.get(reading.index);
				assert.ok(holder === undefined || shown.includes(holder), `${count} GPUs at ${width}: ${holder}`);
			}
		}
	}
});

test('GPU strip: detail goes as the width shrinks', () => {
	assert.deepEqual(gpuStripLines(eight.slice(0, 1), holders, 80).map(line => text(line)), ['GPU0 A100-SXM4-80GB ▕█████████▁▏  87% 61/80G chat#0']);
	assert.deepEqual(gpuStripLines(eight.slice(0, 2), holders, 80).map(line => text(line)), ['GPU0 A100 ▕████▁▏  87% 61/80G chat#0  GPU1 A100 ▕▁▁▁▁▁▏   0%  0/80G']);
	const wide = gpuStripLines(eight, holders, 160).map(line => text(line));
	assert.equal(wide.length, 2);
	assert.match(wide[0]!, /^GPU0 A100 ▕████▁▏ {2}87% 61\/80G chat#0 +GPU1 /);
	const narrow = gpuStripLines(eight, holders, 80).map(line => text(line));
	assert.equal(narrow.length, 2);
	assert.match(narrow[0]!, /^0 {2}87% 61G chat#0 +1 {3}0% {2}0G +2 /);
	// Columns line up from one line to the next.
	assert.equal(narrow[0]!.indexOf(' 1 '), narrow[1]!.indexOf(' 5 '));
});

test('GPU strip: labels too long for the width are cut, never wrapped', () => {
	const long = new Map(eight.map(gpu => [gpu.index, `qwen3-coder-30b-a3b-instruct#${gpu.index}`]));
	const sixteen = [...eight, ...eight.map(gpu => ({...gpu, index: String(Number(gpu.index) + 8)}))];
	for (const [readings, width] of [[eight, 80], [eight, 40], [sixteen, 80]] as const) {
		const lines = gpuStripLines(readings, long, width);
		assert.equal(lines.length, 2);
		for (const line of lines) {
			assert.ok(stringWidth(text(line)) <= width, text(line));
		}
	}

	assert.match(text(gpuStripLines(eight, long, 80)[0]!), /^0 {2}87% qwen3-c…/);
});

test('GPU strip: colour says busy, nearly full, idle and who holds it', () => {
	const [first, second] = gpuStripLines([a100(0, 95, 80_000), a100(1, 0, 0), a100(2, 50, 10_000)], holders, 160);
	assert.equal(second, undefined);
	const cell = (pattern: RegExp) => first!.filter(cell => pattern.test(cell.text));
	assert.deepEqual(cell(/95%/).map(({color}) => color), ['yellow']);
	assert.deepEqual(cell(/^78\/80G/).map(({color}) => color), ['red']);
	assert.deepEqual(cell(/^GPU1/).map(({dim}) => dim), [true]);
	assert.deepEqual(cell(/50%/).map(({color, dim}) => [color, dim]), [[undefined, false]]);
	assert.deepEqual(cell(/chat#0/).map(({color}) => color), ['cyan']);
});

test('GPU strip: unknown numbers show as ?', () => {
	const lines = gpuStripLines([{index: '0', name: 'Tesla T4', utilizationPercent: undefined, memoryUsedMiB: undefined, memoryTotalMiB: 15_360}], new Map(), 80);
	assert.deepEqual(lines.map(line => text(line)), ['GPU0 Tesla T4 ▕▁▁▁▁▁▁▁▁▁▁▏   ?%  ?/15G']);
});

test('the watch runs one query at a time and keeps its pace through failures', async () => {
	const clock = new FakeClock();
	const runs: Array<{resolve: (output: string) => void; reject: (error: Error) => void}> = [];
	const polls: GpuPoll[] = [];
	const watch = new GpuWatch(poll => polls.push(poll), {
		clock,
		intervalMs: 3000,
		run: async () => new Promise((resolve, reject) => runs.push({resolve, reject})),
	});
	await settle();
	assert.equal(runs.length, 1, 'the first query runs at once');
	await clock.advance(20_000);
	assert.equal(runs.length, 1, 'no second query while the first runs');
	runs[0]!.reject(new Error('Failed to initialize NVML: Unknown Error'));
	await settle();
	assert.deepEqual(polls, [{error: 'Failed to initialize NVML: Unknown Error'}]);
	await clock.advance(2999);
	assert.equal(runs.length, 1);
	await clock.advance(1);
	assert.equal(runs.length, 2, 'the next query after the interval, failure or not');
	runs[1]!.resolve('No devices were found\n');
	await settle();
	assert.deepEqual(polls.at(-1), {error: 'No devices were found'});
	await clock.advance(3000);
	runs[2]!.resolve('0, NVIDIA L40S, 12, 2048, 46068\n');
	await settle();
	assert.deepEqual(polls.at(-1), {readings: [{index: '0', name: 'NVIDIA L40S', utilizationPercent: 12, memoryUsedMiB: 2048, memoryTotalMiB: 46_068}]});
	watch.stop();
	assert.equal(clock.pending, 0);
	await clock.advance(10_000);
	assert.equal(runs.length, 3);
});

test('nvidia-smi is looked for on PATH', () => {
	assert.equal(findNvidiaSmi({PATH: `${root}${path.delimiter}${fakeBin}`}), path.join(fakeBin, 'nvidia-smi'));
	assert.equal(findNvidiaSmi({PATH: root}), undefined);
	assert.equal(findNvidiaSmi({}), undefined);
});

test('the fake nvidia-smi refuses a query other than ours', async () => {
	const run = async (...args: string[]) => new Promise<[number | null, string]>(resolve => {
		execFile(path.join(fakeBin, 'nvidia-smi'), args, (error, stdout) => {
			resolve([error ? (error.code as number) : 0, stdout]);
		});
	});
	assert.equal((await run(...nvidiaSmiArguments))[0], 0);
	assert.equal((await run('--query-gpu=index,name', '--format=csv,noheader,nounits'))[0], 2);
	assert.equal((await run(...nvidiaSmiArguments, '-L'))[0], 2);
});

/** Watches the fake nvidia-smi, found on a PATH of our own; it answers with what `file` holds. */
function watchFake(file: string, timeoutMs: number) {
	const env = {...process.env, PATH: `${fakeBin}${path.delimiter}${process.env['PATH'] ?? ''}`, FAKE_NVIDIA_SMI: file};
	const program = findNvidiaSmi(env);
	assert.equal(program, path.join(fakeBin, 'nvidia-smi'));
	const polls: GpuPoll[] = [];
	const watch = new GpuWatch(poll => polls.push(poll), {intervalMs: 50, run: nvidiaSmiRunner(program!, {env, timeoutMs})});
	const nextPoll = async (seen = polls.length): Promise<GpuPoll> => {
		await until(() => polls.length > seen, 5000);
		return polls.at(-1)!;
	};

	return {polls, watch, nextPoll};
}

test('the watch reads the real process, and sees the readings change', async t => {
	const file = path.join(root, 'change');
	writeFileSync(file, '0, NVIDIA A100-SXM4-80GB, 10, 1024, 81920\n');
	const {watch, nextPoll} = watchFake(file, 5000);
	t.after(() => {
		watch.stop();
	});
	assert.deepEqual(await nextPoll(), {readings: [a100(0, 10, 1024)]});
	writeFileSync(file, '0, NVIDIA A100-SXM4-80GB, 97, 80000, 81920\r\n1, NVIDIA A100-SXM4-80GB, [N/A], 0, 81920\r\n');
	let poll = await nextPoll();
	while ('readings' in poll && poll.readings[0]?.utilizationPercent === 10) {
		poll = await nextPoll();
	}

	assert.deepEqual(poll, {readings: [a100(0, 97, 80_000), {...a100(1, 0, 0), utilizationPercent: undefined}]});
});

test('the watch reports nvidia-smi failing in its own words, and goes on', async t => {
	const file = path.join(root, 'fail');
	writeFileSync(file, 'fail\n');
	const {watch, nextPoll} = watchFake(file, 5000);
	t.after(() => {
		watch.stop();
	});
	assert.deepEqual(await nextPoll(), {error: 'Failed to initialize NVML: Driver/library version mismatch'});
	assert.deepEqual(await nextPoll(), {error: 'Failed to initialize NVML: Driver/library version mismatch'});
	writeFileSync(file, '0, NVIDIA A100-SXM4-80GB, 10, 1024, 81920\n');
	let poll = await nextPoll();
	poll = 'error' in poll ? await nextPoll() : poll;
	assert.deepEqual(poll, {readings: [a100(0, 10, 1024)]});
});

test('a hung nvidia-smi is killed at its deadline and reported; polling goes on', async t => {
	const file = path.join(root, 'hang');
	writeFileSync(file, 'hang\n');
	const started = Date.now();
	const {polls, watch, nextPoll} = watchFake(file, 400);
	t.after(() => {
		watch.stop();
	});
	assert.deepEqual(await nextPoll(), {error: 'no answer within 0.4 s (killed)'});
	assert.ok(Date.now() - started >= 400);
	const pid = Number(readFileSync(`${file}.pid`, 'utf8'));
	await until(() => !isAlive(pid), 2000);
	writeFileSync(file, '0, NVIDIA A100-SXM4-80GB, 10, 1024, 81920\n');
	await until(() => 'readings' in polls.at(-1)!, 5000);
	assert.deepEqual(polls.at(-1), {readings: [a100(0, 10, 1024)]});
});

test('the strip renders one Text line per line, with colour or without', () => {
	const poll: GpuPoll = {readings: [a100(0, 95, 80_000), a100(1, 0, 0)]};
	const coloured = render(createElement(GpuStrip, {lines: gpuStrip(poll, holders, 80)}));
	const frame = coloured.lastFrame() ?? '';
	coloured.unmount();
	assert.match(frame, /\u001B\[36mchat#0/, 'the holder in cyan');
	assert.match(frame, /\u001B\[33m +95%/, 'busy in yellow');

	const plain = render(createElement(ColorContext.Provider, {value: false}, createElement(GpuStrip, {lines: gpuStrip(poll, holders, 80)})));
	const plainFrame = plain.lastFrame() ?? '';
	plain.unmount();
	assert.doesNotMatch(plainFrame, /\u001B\[/);
	assert.equal(plainFrame, 'GPU0 A100 ▕█████▏  95% 78/80G chat#0  GPU1 A100 ▕▁▁▁▁▁▏   0%  0/80G');
});

test('the strip shows an nvidia-smi error as one line, and nothing before the first poll', () => {
	const failed = render(createElement(ColorContext.Provider, {value: false}, createElement(GpuStrip, {lines: gpuStrip({error: 'Failed to initialize NVML: Driver/library version mismatch'}, holders, 80)})));
	assert.equal(failed.lastFrame(), 'nvidia-smi: Failed to initialize NVML: Driver/library version mismatch');
	failed.unmount();
	const coloured = render(createElement(GpuStrip, {lines: gpuStrip({error: 'no answer within 5 s (killed)'}, holders, 80)}));
	assert.match(coloured.lastFrame() ?? '', /\u001B\[33mnvidia-smi: no answer/);
	coloured.unmount();
	const waiting = render(createElement(GpuStrip, {lines: gpuStrip(undefined, holders, 80)}));
	assert.equal(waiting.lastFrame(), '');
	waiting.unmount();
});
