import assert from 'node:assert/strict';
import {test} from 'node:test';
import {parseSimArgs, SimUsageError} from '../../source/sim/args.js';
import {formatSampleValue} from '../../source/sim/metrics.js';
import {pyFloatRepr, pyRepr, pyTupleRepr} from '../../source/sim/pyrepr.js';

test('metric values are formatted like prometheus_client', () => {
	assert.equal(formatSampleValue(0), '0.0');
	assert.equal(formatSampleValue(3), '3.0');
	assert.equal(formatSampleValue(0.27), '0.27');
	assert.equal(formatSampleValue(2560), '2560.0');
	assert.equal(formatSampleValue(1234567), '1.234567e+06');
	assert.equal(formatSampleValue(1767000000), '1.767e+09');
	assert.equal(formatSampleValue(1767000123.456), '1.767000123456e+09');
	assert.equal(formatSampleValue(12345678901), '1.2345678901e+010', "prometheus_client's own quirk");
	assert.equal(formatSampleValue(0.00001), '1e-05');
	assert.equal(formatSampleValue(Number.POSITIVE_INFINITY), '+Inf');
});

test('Python reprs for validation messages', () => {
	assert.equal(pyFloatRepr(1), '1.0');
	assert.equal(pyFloatRepr(1e16), '1e+16');
	assert.equal(pyFloatRepr(0.0001), '0.0001');
	assert.equal(pyRepr({ a: [1, 'x', null, true] }), "{'a': [1, 'x', None, True]}");
	assert.equal(pyRepr("it's"), '"it\'s"');
	assert.equal(pyTupleRepr(['body']), "('body',)");
	assert.equal(pyTupleRepr(['body', 'messages', 0]), "('body', 'messages', 0)");
});

test('args: vLLM command lines parse, multi-value flags included', () => {
	const { options } = parseSimArgs(
		['org/model', '--served-model-name', 'a', 'b', '-tp', '2', '--dtype', 'bfloat16', '--port', '9000', '--trust-remote-code'],
		{},
	);
	assert.equal(options.model, 'org/model');
	assert.deepEqual(options.servedModelNames, ['a', 'b']);
	assert.equal(options.port, 9000);
	assert.deepEqual(options.apiKeys, []);
});

test('args: simulator flags and the VLLM_API_KEY fallback', () => {
	const { options } = parseSimArgs(
		['--startup-delay', '1.5', '--token-rate', '0', '--stall-after', '0', '--error-rate', '0.25', '--legacy-metrics'],
		{ VLLM_API_KEY: 'from-env' },
	);
	assert.equal(options.startupDelaySeconds, 1.5);
	assert.equal(options.tokenRate, 0);
	assert.equal(options.stallAfter, 0);
	assert.equal(options.errorRate, 0.25);
	assert.equal(options.legacyMetrics, true);
	assert.deepEqual(options.apiKeys, ['from-env']);
	assert.deepEqual(parseSimArgs(['--api-key', 'k1', 'k2'], { VLLM_API_KEY: 'ignored' }).options.apiKeys, ['k1', 'k2']);
});

test('args: mistakes are one-line usage errors', () => {
	const message = (argv: string[]) => {
		try {
			parseSimArgs(argv, {});
		} catch (error) {
			assert.ok(error instanceof SimUsageError);
			return error.message;
		}
		return assert.fail(`accepted ${argv.join(' ')}`);
	};
	assert.equal(message(['--bogus']), 'unrecognized arguments: --bogus');
	assert.equal(message(['--max-num-seqs', '0']), 'argument --max-num-seqs: must be >= 1, got 0');
	assert.equal(message(['--error-rate', 'lots']), "argument --error-rate: invalid float value: 'lots'");
	assert.equal(message(['one', 'two']), 'unrecognized arguments: two');
	assert.doesNotMatch(message(['--port']), /\n/);
});
