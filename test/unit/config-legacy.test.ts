import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {describe, it} from 'node:test';
import {fileURLToPath} from 'node:url';
import {readBackendUrl} from '../../source/config/backend-url.js';
import {ConfigError} from '../../source/config/errors.js';
import {isLegacyConfig, legacyFormat, parseIpTxt, parseLegacyConfig, parseServersToml, vllmRouterDefaults} from '../../source/config/legacy.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));
const read = (name: string) => readFileSync(fixture(name), 'utf8');

const ipFile = '/srv/forwarder/ip.txt';
const tomlFile = '/srv/router/servers.toml';
const ip = (text: string) => parseIpTxt(text, ipFile);
const servers = (text: string) => parseServersToml(text, tomlFile);
const urls = (text: string) => ip(text).backends.map(backend => backend.url);

/** Asserts the parse is refused with a ConfigError whose message matches every pattern. */
function assertRefused(parse: () => unknown, ...patterns: RegExp[]): void {
	assert.throws(parse, (error: unknown) => {
		assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
		for (const pattern of patterns) {
			assert.match(error.message, pattern);
		}

		return true;
	});
}

const oneServer = (server: string, rest = '') => `[servers]\nservers = [${server}]\n${rest}`;

describe('ip.txt', () => {
	it('reads the example file', () => {
		assert.deepEqual(parseIpTxt(read('ip.txt'), fixture('ip.txt')), {
			format: 'ip.txt',
			backends: [
				'http://10.0.0.11:9001',
				'http://10.0.0.12:9002',
				'http://10.0.0.13:8101',
				'http://gpu-node-4:8101',
				'http://10.0.0.15:8101',
				'https://llm.lab.example:8443',
				'http://[fd00::16]:8101',
			].map(url => ({url, capacity: undefined})),
			settings: {},
		});
	});

	it('gives a bare host port 8101, or the port the caller says', () => {
		assert.deepEqual(urls('10.0.0.11\ngpu-1\nGPU-2.Lab.Example\n'), ['http://10.0.0.11:8101', 'http://gpu-1:8101', 'http://gpu-2.lab.example:8101']);
		assert.deepEqual(parseIpTxt('10.0.0.11\n10.0.0.12:9000\n', ipFile, {defaultPort: 8000}).backends.map(backend => backend.url), ['http://10.0.0.11:8000', 'http://10.0.0.12:9000']);
	});

	it('takes host:port and URLs with or without /v1, http or https', () => {
		assert.deepEqual(urls([
			'10.0.0.11:9001',
			'http://10.0.0.12:8101/v1',
			'http://10.0.0.13:8101/v1/',
			'http://10.0.0.14:8101/',
			'HTTPS://10.0.0.15:8443',
			'https://gpu-6/v1',
			'http://gpu-7',
		].join('\n')), [
			'http://10.0.0.11:9001',
			'http://10.0.0.12:8101',
			'http://10.0.0.13:8101',
			'http://10.0.0.14:8101',
			'https://10.0.0.15:8443',
			// The forwarder's default port applies to every entry without one, URLs included.
			'https://gpu-6:8101',
			'http://gpu-7:8101',
		]);
	});

	it('takes IPv6 addresses in brackets, written in one form', () => {
		assert.deepEqual(urls('[fd00::1]\n[FD00:0:0:0:0:0:0:2]:9001\nhttp://[::1]:8000/v1\n'), ['http://[fd00::1]:8101', 'http://[fd00::2]:9001', 'http://[::1]:8000']);
	});

	it('ignores blank lines and comments, CRLF line ends and a byte-order mark', () => {
		assert.deepEqual(urls('\uFEFF# backends\r\n\r\n  10.0.0.11  \r\n\t# 10.0.0.99\r\n10.0.0.12:9000 # the big one\r\n'), ['http://10.0.0.11:8101', 'http://10.0.0.12:9000']);
	});

	it('names the file, the line and the entry of a bad line', () => {
		assertRefused(() => ip('10.0.0.11\n\n10.0.0.12 10.0.0.13\n'), /^\/srv\/forwarder\/ip\.txt:3: the line must be one backend, a host, host:port or http\(s\) URL such as .* \(got "10\.0\.0\.12 10\.0\.0\.13"\); put each backend on its own line$/);
		assertRefused(() => ip('gpu_1!\n'), /ip\.txt:1: the backend must be a host name or IP address such as gpu-1, gpu-1\.lab\.example or 10\.0\.0\.11 \(got "gpu_1!"\)$/);
		assertRefused(() => ip('10.0.0.11:0\n'), /ip\.txt:1: the backend must be a port number from 1 to 65535 after the host \(got "10\.0\.0\.11:0"\)/);
		assertRefused(() => ip('10.0.0.11:70000\n'), /ip\.txt:1: the backend must be a port number from 1 to 65535 after the host \(got "10\.0\.0\.11:70000"\)/);
		assertRefused(() => ip('10.0.0.11:http\n'), /ip\.txt:1: the backend must be a port number .*\(got "10\.0\.0\.11:http"\)/);
		assertRefused(() => ip('10.0.0.11:\n'), /ip\.txt:1: the backend must be a port number/);
	});

	it('refuses what would only be guessed: IPv6 without brackets, odd IPv4, other schemes and paths', () => {
		assertRefused(() => ip('fd00::1:8101\n'), /ip\.txt:1: the backend must be an IPv6 address in brackets, such as \[fd00::1\]:8101 \(got "fd00::1:8101"\)/);
		assertRefused(() => ip('[fd00::zz]\n'), /ip\.txt:1: the backend must be a valid IPv6 address in brackets/);
		assertRefused(() => ip('[fd00::1\n'), /ip\.txt:1: the backend must be an IPv6 address in brackets/);
		assertRefused(() => ip('10.0.0.256\n'), /ip\.txt:1: the backend must be an IPv4 address of four numbers from 0 to 255, such as 10\.0\.0\.11 \(got "10\.0\.0\.256"\)/);
		assertRefused(() => ip('10.1\n'), /ip\.txt:1: the backend must be an IPv4 address/);
		assertRefused(() => ip('ftp://10.0.0.11\n'), /ip\.txt:1: the backend must be an http:\/\/ or https:\/\/ URL such as http:\/\/10\.0\.0\.11:8101 \(got "ftp:\/\/10\.0\.0\.11"\)/);
		assertRefused(() => ip('http://10.0.0.11:8101/api/v1\n'), /ip\.txt:1: the backend must be a URL whose path is empty or \/v1 \(got "http:\/\/10\.0\.0\.11:8101\/api\/v1"\); switchboard forwards the \/v1\/\.\.\. path of each request itself/);
		assertRefused(() => ip('http://10.0.0.11:8101/v1?x=1\n'), /ip\.txt:1: the backend must be a URL without a user name, query or fragment/);
		assertRefused(() => ip('http://bob:secret@10.0.0.11:8101\n'), /ip\.txt:1: the backend must be a URL without a user name, query or fragment/);
	});

	it('refuses a backend listed twice, however it is written', () => {
		assertRefused(() => ip('10.0.0.11\n# spare\nhttp://10.0.0.11:8101/v1\n'), /^\/srv\/forwarder\/ip\.txt:3: the backend is already on line 1 \(both are http:\/\/10\.0\.0\.11:8101\); list each backend once \(got "http:\/\/10\.0\.0\.11:8101\/v1"\)$/);
	});

	it('refuses a file without backends', () => {
		assertRefused(() => ip(''), /^\/srv\/forwarder\/ip\.txt: lists no backend; write one per line, a host, host:port or http\(s\) URL/);
		assertRefused(() => ip('# all off for maintenance\n\n'), /ip\.txt: lists no backend/);
	});

	it('reports every bad line at once, one line each', () => {
		assertRefused(() => ip('10.0.0.11\nbad host\n10.0.0.11\n10.0.0.12:99999\n'), (/^[^\n]*ip\.txt:2: [^\n]*\n[^\n]*ip\.txt:3: [^\n]*\n[^\n]*ip\.txt:4: [^\n]*$/));
	});
});

describe('servers.toml', () => {
	it('reads the example file, capacities and every [config] setting', () => {
		assert.deepEqual(parseServersToml(read('servers.toml'), fixture('servers.toml')), {
			format: 'servers.toml',
			backends: [
				{url: 'http://gpu-server-1:8081', capacity: 3},
				{url: 'http://gpu-server-2:8088', capacity: 5},
				{url: 'http://10.0.0.13:8089', capacity: 4},
				{url: 'https://llm.lab.example:443', capacity: undefined},
			],
			settings: {
				healthCheckIntervalMs: 10_000,
				healthCheckTimeoutMs: 5000,
				healthCheckMinSuccessRate: 0.8,
				healthCheckMaxResponseTimeMs: 2000,
				configReloadIntervalMs: 30_000,
				activeHealthCheck: true,
				requestTimeoutMs: 120_000,
				maxRetries: 3,
				retryDelayMs: 100,
			},
		});
	});

	it('the example file sets every setting to vllm-router\'s documented default', () => {
		assert.deepEqual(servers(read('servers.toml')).settings, {...vllmRouterDefaults});
	});

	it('leaves unset settings out, for the caller to default', () => {
		assert.deepEqual(servers(oneServer('{url = "http://a:1"}')).settings, {});
		assert.deepEqual(servers(oneServer('{url = "http://a:1"}', '[config]\nmax_retries = 0\nretry_delay = 0\nenable_active_health_check = false\n')).settings, {maxRetries: 0, retryDelayMs: 0, activeHealthCheck: false});
	});

	it('takes a top-level servers list and [[servers]] tables too', () => {
		assert.deepEqual(servers('servers = [{url = "http://a:1", max_concurrent_requests = 2}]\n').backends, [{url: 'http://a:1', capacity: 2}]);
		assert.deepEqual(servers('[[servers]]\nurl = "http://a:1"\n[[servers]]\nurl = "http://b:2/v1"\n').backends, [{url: 'http://a:1', capacity: undefined}, {url: 'http://b:2', capacity: undefined}]);
	});

	it('normalises URLs: /v1 and slashes dropped, the scheme\'s port written out', () => {
		assert.deepEqual(servers(oneServer('{url = "http://A:8000/v1/"}, {url = "http://b/"}, {url = " https://c/v1 "}, {url = "http://[::1]:9000"}')).backends.map(backend => backend.url), [
			'http://a:8000',
			'http://b:80',
			'https://c:443',
			'http://[::1]:9000',
		]);
	});

	it('accepts the weight of older vllm-router files without using it', () => {
		assert.deepEqual(servers(oneServer('{url = "http://a:1", weight = 2}')).backends, [{url: 'http://a:1', capacity: undefined}]);
		assertRefused(() => servers(oneServer('{url = "http://a:1", weight = 0}')), /servers\.toml: servers\.servers\[0\]\.weight must be a whole number from 1 to 100 \(got 0\)/);
	});

	it('names the file, line and column of a TOML syntax error', () => {
		assertRefused(() => servers('[servers]\nservers = [\n  {url = "http://a:1",\n]\n'), /^\/srv\/router\/servers\.toml:\d+:\d+: not valid TOML: /);
	});

	it('refuses a file without servers, or with an empty list', () => {
		assertRefused(() => servers('[config]\nmax_retries = 3\n'), /^\/srv\/router\/servers\.toml: servers is required: the servers to route to, such as \[\{url = "http:\/\/gpu-1:8000", max_concurrent_requests = 4\}\]$/);
		assertRefused(() => servers('[servers]\n'), /servers\.toml: servers\.servers is required/);
		assertRefused(() => servers('[servers]\nservers = []\n'), /^\/srv\/router\/servers\.toml: servers\.servers lists no server; add one such as \{url = "http:\/\/gpu-1:8000", max_concurrent_requests = 4\}$/);
		assertRefused(() => servers('servers = []\n'), /servers\.toml: servers lists no server/);
		assertRefused(() => servers('[servers]\nservers = "http://a:1"\n'), /servers\.toml: servers\.servers must be a list such as \[\{url = .*\}\] \(got "http:\/\/a:1"\)/);
		assertRefused(() => servers('servers = 3\n'), /servers\.toml: servers must be a list such as .* \(got 3\)/);
	});

	it('names the server and key of a bad entry', () => {
		assertRefused(() => servers(oneServer('"http://a:1"')), /servers\.toml: servers\.servers\[0\] must be a table such as \{url = "http:\/\/gpu-1:8000", max_concurrent_requests = 4\} \(got "http:\/\/a:1"\)/);
		assertRefused(() => servers(oneServer('{max_concurrent_requests = 3}')), /servers\.toml: servers\.servers\[0\]\.url is required: the server's address, such as "http:\/\/gpu-1:8000"/);
		assertRefused(() => servers(oneServer('{url = "gpu-1:8000"}')), /servers\.toml: servers\.servers\[0\]\.url must be an http:\/\/ or https:\/\/ URL such as http:\/\/10\.0\.0\.11:8101 \(got "gpu-1:8000"\)/);
		assertRefused(() => servers(oneServer('{url = 8000}')), /servers\.servers\[0\]\.url must be an http:\/\/ or https:\/\/ URL .*\(got 8000\)/);
		assertRefused(() => servers(oneServer('{url = "http://a:1/api"}')), /servers\.servers\[0\]\.url must be a URL whose path is empty or \/v1 \(got "http:\/\/a:1\/api"\)/);
		assertRefused(() => servers(oneServer('{url = "http://a:1", max_concurrent_requests = 0}')), /servers\.toml: servers\.servers\[0\]\.max_concurrent_requests must be a whole number of concurrent requests, 1 or more \(got 0\)/);
		assertRefused(() => servers(oneServer('{url = "http://a:1", max_concurrent_requests = 2.5}')), /max_concurrent_requests must be a whole number .*\(got 2\.5\)/);
		assertRefused(() => servers(oneServer('{url = "http://a:1", max_concurrent_requests = "4"}')), /max_concurrent_requests must be a whole number .*\(got "4"\)/);
	});

	it('refuses unknown keys, naming them and the known ones', () => {
		assertRefused(() => servers(oneServer('{url = "http://a:1", max_concurent_requests = 3}')), /servers\.toml: servers\.servers\[0\]\.max_concurent_requests is not a known key; the keys here are url, max_concurrent_requests, weight/);
		assertRefused(() => servers(oneServer('{url = "http://a:1"}', '[advanced]\nconnection_pool_size = 100\n')), /servers\.toml: advanced is not a known key; the keys here are servers, config/);
		assertRefused(() => servers('[servers]\nservers = [{url = "http://a:1"}]\nstrategy = "random"\n'), /servers\.toml: servers\.strategy is not a known key; the keys here are servers$/);
		assertRefused(() => servers(oneServer('{url = "http://a:1"}', '[config]\nhealth_check_intervall = 10\n')), /servers\.toml: config\.health_check_intervall is not a known key; the keys here are health_check_interval, health_check_timeout, /);
	});

	it('says what each [config] setting expects', () => {
		const refuse = (setting: string, pattern: RegExp) => assertRefused(() => servers(oneServer('{url = "http://a:1"}', `[config]\n${setting}\n`)), pattern);
		refuse('health_check_interval = 0', /servers\.toml: config\.health_check_interval must be a number of seconds above 0, such as 10 \(got 0\)/);
		refuse('health_check_timeout = "5s"', /config\.health_check_timeout must be a number of seconds above 0, such as 5 \(got "5s"\)/);
		refuse('health_check_min_success_rate = 80', /config\.health_check_min_success_rate must be a fraction from 0 to 1, such as 0\.8 \(got 80\)/);
		refuse('health_check_max_response_time = -2.0', /config\.health_check_max_response_time must be a number of seconds above 0, such as 2\.0 \(got -2\)/);
		refuse('enable_active_health_check = "yes"', /config\.enable_active_health_check must be true or false \(got "yes"\)/);
		refuse('config_reload_interval = inf', /config\.config_reload_interval must be a number of seconds above 0, such as 30 \(got Infinity\)/);
		refuse('request_timeout = 3000000', /config\.request_timeout must be at most 2147483 seconds \(24 days\) \(got 3000000\)/);
		refuse('max_retries = 1.5', /config\.max_retries must be a whole number from 0 to 100, such as 3 \(got 1\.5\)/);
		refuse('retry_delay = -0.1', /config\.retry_delay must be a number of seconds, 0 or more, such as 0\.1 \(got -0\.1\)/);
		assertRefused(() => servers('config = 3\nservers = [{url = "http://a:1"}]\n'), /servers\.toml: config must be a table of settings such as \[config\] max_retries = 3 \(got 3\)/);
	});

	it('refuses a server listed twice, however its URL is written', () => {
		assertRefused(() => servers(oneServer('{url = "http://gpu-1:8081"}, {url = "http://b:1"}, {url = "http://GPU-1:8081/v1"}')), /^\/srv\/router\/servers\.toml: servers\.servers\[2\]\.url is the server of servers\.servers\[0\] again \(both are http:\/\/gpu-1:8081\); list each server once \(got "http:\/\/GPU-1:8081\/v1"\)$/);
	});

	it('reports every problem at once, one line each, each naming the file', () => {
		assertRefused(
			() => servers(oneServer('{url = "gpu-1"}, {url = "http://a:1", max_concurrent_requests = 0}', '[config]\nmax_retries = -1\n')),
			/^\/srv\/router\/servers\.toml: servers\.servers\[0\]\.url [^\n]*\n\/srv\/router\/servers\.toml: servers\.servers\[1\]\.max_concurrent_requests [^\n]*\n\/srv\/router\/servers\.toml: config\.max_retries [^\n]*$/,
		);
	});
});

describe('telling legacy files from switchboard.toml', () => {
	it('recognises the example files and leaves switchboard.toml alone', () => {
		assert.equal(legacyFormat(fixture('servers.toml'), read('servers.toml')), 'servers.toml');
		assert.equal(legacyFormat(fixture('ip.txt'), read('ip.txt')), 'ip.txt');
		assert.equal(legacyFormat(fixture('fleet.toml'), read('fleet.toml')), undefined);
		assert.equal(isLegacyConfig(fixture('servers.toml'), read('servers.toml')), true);
		assert.equal(isLegacyConfig(fixture('fleet.toml'), read('fleet.toml')), false);
	});

	it('a TOML file is a servers.toml when it has servers and no models', () => {
		assert.equal(legacyFormat('router.conf', 'servers = [{url = "http://a:1"}]\n'), 'servers.toml');
		assert.equal(legacyFormat('x.toml', '[servers]\n'), 'servers.toml');
		assert.equal(legacyFormat('x.toml', '[servers]\nservers = []\n[[models]]\nname = "a"\n'), undefined);
		assert.equal(legacyFormat('x.toml', '[config]\nmax_retries = 3\n'), undefined);
		assert.equal(legacyFormat('x.toml', ''), undefined);
	});

	it('a .txt file is always an ip.txt, so its mistakes are reported by line', () => {
		assert.equal(legacyFormat('/etc/backends.TXT', ''), 'ip.txt');
		assert.equal(legacyFormat('ip.txt', 'not a host list at all\n'), 'ip.txt');
	});

	it('another file is an ip.txt when it is not TOML and every entry is one host or URL', () => {
		assert.equal(legacyFormat('backends', '# lab\n10.0.0.11\ngpu-2:9000\nhttp://[::1]:8000/v1\n'), 'ip.txt');
		assert.equal(legacyFormat('backends', 'gpu-1\nthis is prose\n'), undefined);
		assert.equal(legacyFormat('backends', '[server\nport = 1\n'), undefined);
		assert.equal(legacyFormat('backends', '# nothing\n'), undefined);
		// A .toml file with a syntax error is a broken switchboard.toml or servers.toml, never a host list.
		assert.equal(legacyFormat('hosts.toml', '10.0.0.11\n'), undefined);
	});

	it('parseLegacyConfig reads either format, and nothing else', () => {
		assert.equal(parseLegacyConfig(read('servers.toml'), 'servers.toml')?.format, 'servers.toml');
		assert.deepEqual(parseLegacyConfig('10.0.0.11\n', 'backends'), {format: 'ip.txt', backends: [{url: 'http://10.0.0.11:8101', capacity: undefined}], settings: {}});
		assert.equal(parseLegacyConfig(read('fleet.toml'), 'fleet.toml'), undefined);
	});
});

describe('backend URLs', () => {
	it('without requireScheme a bare host is http, with it only URLs pass', () => {
		assert.deepEqual(readBackendUrl('gpu-1'), {value: 'http://gpu-1:80'});
		assert.deepEqual(readBackendUrl('gpu-1', {requireScheme: true}), {expected: 'an http:// or https:// URL such as http://10.0.0.11:8101'});
		assert.deepEqual(readBackendUrl('https://gpu-1', {requireScheme: true}), {value: 'https://gpu-1:443'});
	});

	it('refuses an empty host and overlong labels', () => {
		assert.ok('expected' in readBackendUrl('http://'));
		assert.ok('expected' in readBackendUrl('http://:8000'));
		assert.ok('expected' in readBackendUrl(`${'a'.repeat(64)}.example`));
		assert.ok('expected' in readBackendUrl('gpu-.example'));
	});
});
