/**
 * `npm test`: brings up the local SLURM cluster (scripts/slurm-local/setup.sh), runs the test files
 * given with node's test runner, then stops what it started, and only that: a cluster that was
 * already up stays up. Node 20's test runner has no global setup, hence this wrapper.
 *
 *   node --import tsx test/run.ts test/unit/*.test.ts test/e2e/*.test.ts
 */
import {spawn} from 'node:child_process';
import {constants} from 'node:os';
import {handOver, setUpSlurmCluster, tearDownSlurmCluster} from './helpers/slurm-cluster.js';

const underCi = process.env['CI'] === 'true';
const {cluster, started} = await setUpSlurmCluster(true);
if (!cluster.ready) {
	console.log(`slurm-local: the SLURM tests will ${underCi ? 'FAIL (CI=true)' : 'skip'}: ${cluster.reason}`);
}

const tests = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(2)], {stdio: 'inherit', env: handOver(cluster)});
const forward = (signal: NodeJS.Signals) => {
	tests.kill(signal);
};

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
	process.on(signal, forward);
}

const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => {
	tests.once('exit', (exitCode, exitSignal) => {
		resolve([exitCode, exitSignal]);
	});
});
process.exitCode = signal === null ? code ?? 1 : 128 + constants.signals[signal];
if (!cluster.ready && underCi) {
	process.exitCode ||= 1;
}

if (started.length > 0) {
	try {
		process.stdout.write(await tearDownSlurmCluster(started));
	} catch (error) {
		console.error(`slurm-local: teardown failed, daemons may be left running: ${String(error)}`);
		process.exitCode ||= 1;
	}
}
