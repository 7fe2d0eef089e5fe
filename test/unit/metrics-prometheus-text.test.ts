import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {parseMetrics} from '../../source/metrics/prometheus-text.js';

function parse(text: string, ...names: string[]) {
	return parseMetrics(text, new Set(names));
}

describe('prometheus text', () => {
	it('keeps only the wanted families, comments and _created series left out', () => {
		const text = [
			'# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
			'# TYPE vllm:prompt_tokens_total counter',
			'vllm:prompt_tokens_total{engine="0",model_name="qwen"} 5120.0',
			'# HELP vllm:prompt_tokens_created Number of prefill tokens processed.',
			'# TYPE vllm:prompt_tokens_created gauge',
			'vllm:prompt_tokens_created{engine="0",model_name="qwen"} 1.767e+09',
			'vllm:num_requests_running{engine="0",model_name="qwen"} 3.0',
			'',
		].join('\n');
		const samples = parse(text, 'vllm:prompt_tokens_total');
		assert.deepEqual([...samples.keys()], ['vllm:prompt_tokens_total']);
		assert.deepEqual(samples.get('vllm:prompt_tokens_total')?.map(({labels, value}) => [{...labels}, value]), [[{engine: '0', model_name: 'qwen'}, 5120]]);
	});

	it('groups series of one name in the order written, labels in any order', () => {
		const text = 'm{model_name="a",engine="1"} 2.0\nm{engine="0",model_name="a"} 1.0\nm 7\n';
		const samples = parse(text, 'm').get('m');
		assert.deepEqual(samples?.map(({labels, value}) => [{...labels}, value]), [
			[{model_name: 'a', engine: '1'}, 2],
			[{engine: '0', model_name: 'a'}, 1],
			[{}, 7],
		]);
	});

	it('reads Python float values, infinities, NaN and an optional timestamp', () => {
		const text = [
			'm{k="int"} 1.0',
			'm{k="exp"} 6.49e+07',
			'm{k="neg"} -0.5',
			'm{k="pinf"} +Inf',
			'm{k="ninf"} -Inf',
			'm{k="nan"} NaN',
			'm{k="stamped"} 42.5 1767000000000',
			'm{k="negstamp"} 3 -12',
		].join('\n');
		const values = new Map(parse(text, 'm').get('m')!.map(({labels, value}) => [labels['k'], value]));
		assert.equal(values.get('int'), 1);
		assert.equal(values.get('exp'), 64_900_000);
		assert.equal(values.get('neg'), -0.5);
		assert.equal(values.get('pinf'), Number.POSITIVE_INFINITY);
		assert.equal(values.get('ninf'), Number.NEGATIVE_INFINITY);
		assert.ok(Number.isNaN(values.get('nan')));
		assert.equal(values.get('stamped'), 42.5);
		assert.equal(values.get('negstamp'), 3);
		assert.equal(values.size, 8);
	});

	it('unescapes \\\\, \\" and \\n in label values, and keeps , } and blanks inside quotes', () => {
		const text = String.raw`m{path="C:\\dir\\",quote="say \"hi\"",multi="one\ntwo",odd="a\tb",inside="x} y,z"} 1` + '\n';
		const [sample] = parse(text, 'm').get('m')!;
		assert.equal(sample!.labels['path'], 'C:\\dir\\');
		assert.equal(sample!.labels['quote'], 'say "hi"');
		assert.equal(sample!.labels['multi'], 'one\ntwo');
		assert.equal(sample!.labels['odd'], 'a\\tb', 'an undefined escape is kept as written');
		assert.equal(sample!.labels['inside'], 'x} y,z');
	});

	it('takes CRLF line ends, blank lines, stray blanks and a trailing comma', () => {
		const text = '# TYPE m gauge\r\n\r\n  m{ a = "1" , b="2", }   4.5  \r\nm{a="3"} 5\r\n\r\n';
		const samples = parse(text, 'm').get('m')!;
		assert.deepEqual(samples.map(({labels, value}) => [{...labels}, value]), [
			[{a: '1', b: '2'}, 4.5],
			[{a: '3'}, 5],
		]);
	});

	it('skips malformed lines instead of throwing, and reads the good ones around them', () => {
		const text = [
			'm{a="1" 3.0',
			'm{a="1"} three',
			'm{a="1"}',
			'm{a=1} 2',
			'm{a="unterminated} 2',
			'm{="x"} 2',
			'm{a="1"} 2 trailing words',
			'm{a="1"} 2 1.5',
			'm{a="ok"} 9',
			'garbage line without value',
			'm{a="end\\',
		].join('\n');
		assert.deepEqual(parse(text, 'm').get('m')?.map(({labels, value}) => [{...labels}, value]), [[{a: 'ok'}, 9]]);
	});

	it('stores labels without a prototype, so any label name is just data', () => {
		const [sample] = parse('m{constructor="c",__proto__="p"} 1\n', 'm').get('m')!;
		assert.equal(sample!.labels['constructor'], 'c');
		assert.equal(sample!.labels['__proto__'], 'p');
		assert.equal(Object.keys(sample!.labels).length, 2);
	});

	it('answers an empty map for text with nothing wanted', () => {
		assert.equal(parse('', 'm').size, 0);
		assert.equal(parse('other 1\n# m 2\n', 'm').size, 0);
	});
});
