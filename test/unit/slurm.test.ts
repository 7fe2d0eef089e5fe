import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {beforeEach, describe, it} from 'node:test';
import type {Fleet} from '../../source/fleet/fleet.js';
import {jobPortVariable, jobScript, portFromComment} from '../../source/launchers/slurm/job-script.js';
import {JobLedger, type JobRecord} from '../../source/launchers/slurm/job-ledger.js';
import {JobWatcher} from '../../source/launchers/slurm/job-watcher.js';
import {recoverJobs} from '../../source/launchers/slurm/recover.js';
import {isOwnJob, jobName} from '../../source/launchers/slurm/slurm-launcher.js';
import {parseSlurmDuration} from '../../source/launchers/slurm/slurm-time.js';
import {parseQueue, type QueueEntry} from '../../source/launchers/slurm/squeue.js';
import {FakeClock, settle} from '../helpers/fake-clock.js';
import {fakeFleet, FakeInstance, fleetConfig, localModel} from '../helpers/fleet.js';
import type {ModelConfig} from '../../source/config/types.js';

const minute = 60_000;

function slurmModel(name: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
	return localModel(name, {
		launcher: 'slurm',
		slurm: {sbatch: {partition: undefined, gres: 'gpu:1', mem: undefined, time: undefined, qos: undefined, account: undefined, extra: []}, srunCommand: undefined, reach: 'direct', tunnel: undefined, renewBeforeMs: 0},
		...overrides,
	});
}

function entry(fields: Partial<QueueEntry> & Pick<QueueEntry, 'id' | 'name' | 'state'>): QueueEntry {
	return {reason: undefined, node: undefined, timeLimitMs: undefined, timeLeftMs: undefined, comment: undefined, ...fields};
}

describe('SLURM output', () => {
	it('reads durations as squeue prints them', () => {
		assert.equal(parseSlurmDuration('30:00'), 30 * minute);
		assert.equal(parseSlurmDuration('0:05'), 5000);
		assert.equal(parseSlurmDuration('4:00:00'), 240 * minute);
		assert.equal(parseSlurmDuration('1-02:03:04'), ((26 * 60 + 3) * 60 + 4) * 1000);
		assert.equal(parseSlurmDuration('2-12'), 60 * 60 * minute);
		assert.equal(parseSlurmDuration('15'), 15 * minute);
		for (const none of ['UNLIMITED', 'NOT_SET', 'INVALID', '']) {
			assert.equal(parseSlurmDuration(none), undefined, none);
		}
	});

	it('parses squeue lines, names last, "None" and "(null)" as unset', () => {
		const entries = parseQueue('12|PENDING|Resources||1:00:00|1:00:00|(null)|switchboard-qwen-abc123-x0\n13|RUNNING|None|vm|UNLIMITED|INVALID|switchboard-port=8101|odd|name\n\n');
		assert.deepEqual(entries, [
			{id: '12', state: 'PENDING', reason: 'Resources', node: undefined, timeLimitMs: 60 * minute, timeLeftMs: 60 * minute, comment: undefined, name: 'switchboard-qwen-abc123-x0'},
			{id: '13', state: 'RUNNING', reason: undefined, node: 'vm', timeLimitMs: undefined, timeLeftMs: undefined, comment: 'switchboard-port=8101', name: 'odd|name'},
		]);
		assert.equal(portFromComment(entries[1]!.comment), 8101);
	});

	it('names jobs so that a later run knows its own and no one else\'s', () => {
		const name = jobName('Qwen/Qwen3 8B', 'abc123', 'k0');
		assert.equal(name, 'switchboard-Qwen_Qwen3_8B-abc123-k0');
		assert.ok(isOwnJob(name, 'abc123'));
		assert.ok(!isOwnJob(name, 'def456'));
		assert.ok(!isOwnJob('train-abc123-1', 'abc123'));
	});
});

describe('job script', () => {
	const run = (script: string, env: Record<string, string> = {}) => execFileSync('bash', ['-c', script], {env: {PATH: process.env['PATH'], SLURM_JOB_ID: '7', ...env}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});

	it('picks a port nothing listens on, exports the model\'s env, and runs the command with its words intact', () => {
		const directory = mkdtempSync(path.join(tmpdir(), 'switchboard-script-'));
		const out = path.join(directory, 'argv.json');
		const script = jobScript({
			model: 'm',
			command: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify([process.argv.slice(1), process.env.GREETING]))`, '--', `--port=${jobPortVariable}`, 'it\'s a "test"', '', '$HOME'],
			env: {GREETING: 'hello world'},
			firstPort: 40_123,
			tunnel: undefined,
		});
		const output = run(script);
		const [argv, greeting] = JSON.parse(readFileSync(out, 'utf8')) as [string[], string];
		const port = Number(/--port=(\d+)/.exec(argv[0] ?? '')?.[1]);
		assert.ok(port >= 40_123, `port ${argv[0]}`);
		assert.deepEqual(argv.slice(1), ['it\'s a "test"', '', '$HOME']);
		assert.equal(greeting, 'hello world');
		assert.match(output, new RegExp(`the backend listens on .*:${port}`));
	});

	it('in a tunnel, ends when ssh fails and says what to check', () => {
		const script = jobScript({
			model: 'm',
			command: ['sleep', '30'],
			env: {},
			firstPort: 'by job id',
			// Nothing listens on port 1: ssh fails at once.
			tunnel: {user: 'nobody', host: '127.0.0.1', sshPort: 1, port: 40_200},
		});
		assert.throws(() => run(script), (error: {status: number; stdout: string}) => {
			assert.notEqual(error.status, 0);
			assert.match(error.stdout, /the SSH tunnel to nobody@127\.0\.0\.1 \(port 1\) ended with code 255/);
			return true;
		});
	});
});

describe('JobWatcher', () => {
	it('asks once per poll for every job it follows, and hands each the newest job of its name', async () => {
		const queries: string[][] = [];
		const watcher = new JobWatcher({
			pollMs: 1000,
			onProblem: assert.fail,
			async query(names) {
				queries.push([...names]);
				return [entry({id: '5', name: 'a', state: 'CANCELLED'}), entry({id: '9', name: 'a', state: 'RUNNING'}), entry({id: '6', name: 'b', state: 'PENDING'})];
			},
		});
		const seen = new Map<string, string | undefined>();
		const follower = (name: string) => ({name, seen: (job: QueueEntry | undefined) => seen.set(name, job && `${job.id} ${job.state}`), settled: () => false});
		const stops = ['a', 'b', 'c'].map(name => watcher.follow(follower(name)));
		await watcher.pollNow();
		assert.deepEqual(queries, [['a', 'b', 'c']]);
		assert.deepEqual(Object.fromEntries(seen), {a: '9 RUNNING', b: '6 PENDING', c: undefined});
		for (const stop of stops) {
			stop();
		}
	});

	it('says once when squeue fails and once when it answers again', async () => {
		const problems: string[] = [];
		let failing = true;
		const watcher = new JobWatcher({
			pollMs: 1000,
			onProblem: message => problems.push(message),
			async query() {
				if (failing) {
					throw new Error('slurm_load_jobs error: Unable to contact slurm controller');
				}

				return [];
			},
		});
		const stop = watcher.follow({name: 'a', seen() {}, settled: () => false});
		await watcher.pollNow();
		await watcher.pollNow();
		failing = false;
		await watcher.pollNow();
		stop();
		assert.equal(problems.length, 2);
		assert.match(problems[0]!, /squeue failed.*Unable to contact slurm controller/);
		assert.equal(problems[1], 'squeue answers again');
	});
});

describe('SLURM jobs in the fleet', () => {
	let clock: FakeClock;
	let instances: FakeInstance[];
	let fleet: Fleet;

	beforeEach(() => {
		clock = new FakeClock();
		instances = [];
		fleet = fakeFleet(fleetConfig(slurmModel('m', {startupTimeoutMs: 10 * minute})), instances, {clock});
	});

	const replica = () => fleet.get('m')!.snapshot().replicas[0];

	it('shows a replica queued while its job waits, and counts the startup timeout only from when it runs', async () => {
		fleet.demand('m');
		await settle();
		assert.equal(instances[0]!.spec.command.at(-1), jobPortVariable, 'the job picks its port');
		instances[0]!.report({phase: 'waiting', reason: 'Resources'});
		assert.equal(replica()?.state, 'queued');
		await clock.advance(60 * minute);
		assert.equal(fleet.get('m')!.state, 'loading', 'an hour in the queue is not a failed start');
		instances[0]!.report({phase: 'running', node: 'gpu07'});
		assert.equal(replica()?.state, 'loading');
		await clock.advance(9 * minute);
		instances[0]!.becomeReady();
		assert.equal(fleet.get('m')!.state, 'ready');
	});

	it('fails the start when a running job is not ready within the startup timeout', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.report({phase: 'waiting', reason: 'Priority'});
		instances[0]!.report({phase: 'running', node: 'gpu07'});
		await clock.advance(10 * minute);
		assert.equal(fleet.get('m')!.state, 'failed');
		assert.match(fleet.get('m')!.snapshot().reason ?? '', /did not become ready within 10m/);
		assert.ok(instances[0]!.stopped, 'its job is cancelled');
	});

	it('stops, rather than restarts, a model whose job was cancelled from outside; the next request starts it again', async () => {
		fleet.demand('m');
		await settle();
		instances[0]!.report({phase: 'running', node: 'gpu07'});
		instances[0]!.becomeReady();
		instances[0]!.exit({description: '(SLURM job 12) was cancelled', outside: true});
		await settle();
		assert.equal(fleet.get('m')!.state, 'stopped');
		assert.match(fleet.get('m')!.snapshot().reason ?? '', /m \(SLURM job 12\) was cancelled while serving/);
		await clock.advance(5 * minute);
		assert.equal(instances.length, 1, 'no restart of its own');
		fleet.demand('m');
		await settle();
		assert.equal(instances.length, 2);
	});

	it('with renew_before, starts a fresh job before the time limit and drains the old one once the fresh one is ready', async () => {
		fleet = fakeFleet(fleetConfig(slurmModel('m', {idleTimeoutMs: 0, slurm: {...slurmModel('m').slurm!, renewBeforeMs: 10 * minute}})), instances, {clock});
		fleet.demand('m');
		await settle();
		instances[0]!.report({phase: 'running', node: 'gpu07', endsAt: clock.now() + (60 * minute)});
		instances[0]!.becomeReady();
		await clock.advance(49 * minute);
		assert.equal(instances.length, 1);
		await clock.advance(1 * minute);
		assert.equal(instances.length, 2, 'a fresh job 10 minutes before the limit');
		assert.deepEqual(fleet.get('m')!.backends().map(backend => backend.url), [instances[0]!.url], 'the old job serves meanwhile');
		instances[1]!.report({phase: 'running', node: 'gpu08', endsAt: clock.now() + (60 * minute)});
		instances[1]!.becomeReady();
		await settle();
		assert.ok(instances[0]!.stopped, 'the old job is cancelled');
		assert.deepEqual(fleet.get('m')!.backends().map(backend => backend.url), [instances[1]!.url]);
		assert.equal(fleet.get('m')!.state, 'ready');
	});

	it('takes over a job of an earlier run on the port it was recorded with', async () => {
		const job: JobRecord = {name: 'switchboard-m-abc123-x', id: '31', model: 'm', port: 8150, logPath: '/tmp/m.log', submittedAt: clock.now() - minute, owner: 1};
		fleet.adopt(job);
		await settle();
		assert.equal(instances.length, 1);
		assert.deepEqual(instances[0]!.spec.adopt, job);
		assert.equal(instances[0]!.spec.port, 8150);
		instances[0]!.becomeReady();
		assert.equal(fleet.get('m')!.state, 'ready');
	});
});

describe('recovering the jobs of an earlier run', () => {
	const owner = 'abc123';
	const record = (name: string, model: string): JobRecord => ({name, id: undefined, model, port: 8101, logPath: `/tmp/${name}.log`, submittedAt: 0, owner: 1});

	it('takes over running jobs of configured SLURM models and cancels every other job of its own', async () => {
		const ledger = new JobLedger(undefined, assert.fail);
		for (const job of [record('switchboard-m-abc123-1', 'm'), record('switchboard-m-abc123-2', 'm'), record('switchboard-gone-abc123-3', 'gone'), record('switchboard-m-abc123-4', 'm')]) {
			ledger.add(job);
		}

		const cancelled: string[] = [];
		const logs: string[] = [];
		const adopted = await recoverJobs({
			owner,
			ledger,
			models: [slurmModel('m'), localModel('local')],
			log: (_level, message) => logs.push(message),
			listJobs: async () => [
				entry({id: '1', name: 'switchboard-m-abc123-1', state: 'RUNNING'}),
				entry({id: '2', name: 'switchboard-m-abc123-2', state: 'PENDING'}),
				entry({id: '3', name: 'switchboard-gone-abc123-3', state: 'RUNNING'}),
				entry({id: '5', name: 'switchboard-m-abc123-5', state: 'RUNNING'}),
				entry({id: '6', name: 'switchboard-m-def456-1', state: 'RUNNING'}),
				entry({id: '7', name: 'train', state: 'RUNNING'}),
			],
			cancel: async id => {
				cancelled.push(id);
			},
		});
		assert.deepEqual(adopted.map(job => [job.id, job.name, job.owner]), [['1', 'switchboard-m-abc123-1', process.pid]]);
		assert.equal(ledger.records[0]!.owner, process.pid, 'the dead switchboard\'s reaper leaves a job taken over alone');
		assert.deepEqual(cancelled, ['2', '3', '5'], 'never another switchboard\'s job, nor one that is not switchboard\'s');
		assert.deepEqual(ledger.records.map(job => job.name), ['switchboard-m-abc123-1'], 'the ended job 4 and the cancelled ones are forgotten');
		assert.match(logs.join('\n'), /cancelled SLURM job 2 .*still pending, and nobody waits for it now/);
		assert.match(logs.join('\n'), /cancelled SLURM job 3 .*gone is not one of the SLURM models configured now/);
	});

	it('does not ask squeue when no model is a SLURM model and no job was left', async () => {
		const adopted = await recoverJobs({owner, ledger: new JobLedger(undefined, assert.fail), models: [localModel('m')], log: assert.fail, listJobs: assert.fail});
		assert.deepEqual(adopted, []);
	});
});
