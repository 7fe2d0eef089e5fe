/**
 * The real single-node SLURM cluster and sshd the SLURM tests run against, brought up by
 * `scripts/slurm-local/setup.sh` (root only). `npm test` (test/run.ts) brings it up once and hands
 * the result to every test file; a test file run on its own brings it up itself and leaves it running
 * (`scripts/slurm-local/teardown.sh` stops it).
 *
 * Without a cluster the SLURM tests skip with the reason, except under CI=true, where they fail.
 *
 *   await describeWithSlurm('sbatch', cluster => {
 *   	it('…', async () => { … cluster.sshPort … });
 *   });
 */
import {execFile, spawn} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {describe} from 'node:test';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

export interface ReadySlurmCluster {
	ready: true;
	/** Port 2222 on 127.0.0.1: this cluster's sshd always listens there. */
	sshPort: number;
	/** `ssh user@127.0.0.1` without -p logs in (port 22), as `--loopback-host 127.0.0.1` needs. */
	defaultSshPortWorks: boolean;
	/** Who runs the tests, submits the jobs and logs in over ssh (root). */
	user: string;
	/** The one node's name (`hostname -s`); its NodeAddr is 127.0.0.1. */
	node: string;
}

export type SlurmCluster = ReadySlurmCluster | {ready: false; reason: string};

const scripts = fileURLToPath(new URL('../../scripts/slurm-local/', import.meta.url));
/** Where test/run.ts hands its cluster to the test files, so that none of them runs setup.sh again. */
const handedOver = 'SWITCHBOARD_TEST_SLURM';
const sshPort = 2222;
const run = promisify(execFile);

/**
 * Runs setup.sh, then checks that root's ssh logins work; `started` names the daemons this call
 * started (for teardown.sh), none when the cluster was already up.
 */
export async function setUpSlurmCluster(showProgress = false): Promise<{cluster: SlurmCluster; started: string[]}> {
	if (process.getuid?.() !== 0) {
		return {cluster: {ready: false, reason: 'not root: the SLURM tests install and start a local cluster with scripts/slurm-local/setup.sh, which needs root'}, started: []};
	}

	const directory = mkdtempSync(path.join(os.tmpdir(), 'slurm-local-'));
	const startedFile = path.join(directory, 'started');
	try {
		const failure = await runSetup(startedFile, showProgress);
		const started = existsSync(startedFile) ? readFileSync(startedFile, 'utf8').split('\n').filter(Boolean) : [];
		return {cluster: failure === undefined ? await probe() : {ready: false, reason: failure}, started};
	} finally {
		rmSync(directory, {recursive: true, force: true});
	}
}

/** Resolves to why setup.sh failed, or undefined when it succeeded. */
async function runSetup(startedFile: string, showProgress: boolean): Promise<string | undefined> {
	const child = spawn(path.join(scripts, 'setup.sh'), ['--started', startedFile], {stdio: ['ignore', showProgress ? 'inherit' : 'ignore', 'pipe']});
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	const code = await new Promise<number | null>(resolve => {
		child.once('error', () => {
			resolve(null);
		});
		child.once('close', resolve);
	});
	return code === 0 ? undefined : `scripts/slurm-local/setup.sh failed (exit ${code}): ${stderr.trim() || 'no output'}`;
}

async function probe(): Promise<SlurmCluster> {
	const user = os.userInfo().username;
	const [node, onSshPort, onDefaultPort] = await Promise.all([
		run('sinfo', ['-h', '-o', '%N']).then(({stdout}) => stdout.trim()),
		sshLogsIn(user, sshPort),
		sshLogsIn(user, undefined),
	]);
	if (!onSshPort) {
		return {ready: false, reason: `ssh -p ${sshPort} ${user}@127.0.0.1 does not log in (see /var/log/switchboard-test/sshd.log)`};
	}

	return {ready: true, sshPort, defaultSshPortWorks: onDefaultPort, user, node};
}

async function sshLogsIn(user: string, port: number | undefined): Promise<boolean> {
	const portFlags = port === undefined ? [] : ['-p', String(port)];
	return run('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', ...portFlags, `${user}@127.0.0.1`, 'true']).then(() => true, () => false);
}

/** Stops the daemons named (what setUpSlurmCluster started); throws when teardown.sh fails. */
export async function tearDownSlurmCluster(started: string[]): Promise<string> {
	const {stdout} = await run(path.join(scripts, 'teardown.sh'), started);
	return stdout;
}

let cluster: Promise<SlurmCluster> | undefined;

/** The cluster, brought up once per process. Under CI=true, no cluster throws with the reason. */
export async function slurmCluster(): Promise<SlurmCluster> {
	const handed = process.env[handedOver];
	cluster ??= handed ? Promise.resolve(JSON.parse(handed) as SlurmCluster) : setUpSlurmCluster().then(result => result.cluster);
	const found = await cluster;
	if (!found.ready && process.env['CI'] === 'true') {
		throw new Error(`no SLURM cluster, and under CI=true the SLURM tests fail rather than skip: ${found.reason}`);
	}

	return found;
}

/** The environment that hands `cluster` to the test files test/run.ts starts. */
export function handOver(found: SlurmCluster): NodeJS.ProcessEnv {
	return {...process.env, [handedOver]: JSON.stringify(found)};
}

/** A `describe` whose tests get the cluster; skipped with the reason when there is none (outside CI). */
export async function describeWithSlurm(name: string, body: (cluster: ReadySlurmCluster) => void): Promise<void> {
	const found = await slurmCluster();
	if (found.ready) {
		describe(name, () => {
			body(found);
		});
	} else {
		describe(name, {skip: found.reason}, () => undefined);
	}
}
