/**
 * Replicas behind least-load: four simulated backends as one static model, loaded through
 * switchboard and, in the same run, directly (one backend alone, and the four with the client
 * spreading the connections itself, which is what switchboard's routing has to match).
 */
import {parseMetrics} from '../../dist/metrics/prometheus-text.js';
import {firstAnswer, getText, measureLoad, progress, serviceTarget, type Timing} from './measure.js';
import type {Processes, Service} from './processes.js';
import type {LoadFigures, ReplicaMeasurements} from './report.js';
import type {LoadResult} from './load.js';
import {writeStaticConfig} from './static-config.js';

const replicaCount = 4;
/** As the single-backend throughput row; a multiple of the replicas, so the client spreads it evenly. */
const connections = 64;
const successFamily = 'vllm:request_success_total';

export async function measureReplicas(processes: Processes, workDir: string, simFlags: readonly string[], timing: Timing): Promise<ReplicaMeasurements> {
	progress(`starting ${replicaCount} backends and switchboard in front of them (static model, least-load, health checks every 2 s)`);
	const replicas = await Promise.all(Array.from({length: replicaCount}, async (_unused, index) => processes.sim(`replica-${index + 1}`, simFlags)));
	const configPath = writeStaticConfig(workDir, 'replicas', {backends: replicas.map(replica => replica.url), healthChecks: true, healthInterval: '2s'});
	const switchboard = await processes.switchboardWithConfig('switchboard-replicas', configPath);
	await Promise.all([...replicas, switchboard].map(async service => firstAnswer(service, 16)));

	const one = await measureLoad({name: 'one replica direct', origins: replicas[0]!.url, pids: [replicas[0]!.pid]}, connections, timing);
	const spread = await measureLoad({
		name: `${replicaCount} replicas direct, spread by the client`,
		origins: replicas.map(replica => replica.url),
		pids: replicas.map(replica => replica.pid),
	}, connections, timing);

	// Counted by the backends themselves around the measured run only, so warm-up and the direct runs fall outside it.
	let before: number[] = [];
	const through = await measureLoad(serviceTarget(switchboard), connections, timing, async () => {
		before = await completedPerReplica(replicas);
	});
	const after = await completedPerReplica(replicas);
	const perReplica = after.map((count, index) => count - before[index]!);
	progress(`requests per replica through switchboard: ${perReplica.join(' / ')}`);

	await Promise.all([switchboard, ...replicas].map(async service => service.stop()));
	return {
		replicas: replicaCount,
		connections,
		directOne: figures(one.result),
		directSpread: figures(spread.result),
		switchboard: figures(through.result),
		cpuMsPerRequest: {backends: spread.cpuMsPerRequest, switchboard: through.cpuMsPerRequest},
		perReplica,
	};
}

/** Requests each backend has finished so far, by its own /metrics (every finish reason). */
async function completedPerReplica(replicas: readonly Service[]): Promise<number[]> {
	return Promise.all(replicas.map(async replica => {
		const samples = parseMetrics(await getText(`${replica.url}/metrics`), new Set([successFamily])).get(successFamily);
		if (!samples) {
			throw new Error(`${replica.name}'s /metrics has no ${successFamily}`);
		}

		return samples.reduce((sum, sample) => sum + sample.value, 0);
	}));
}

function figures(result: LoadResult): LoadFigures {
	return {requestsPerSecond: result.requestsPerSecond, requests: result.requests, latency: result.latency};
}
