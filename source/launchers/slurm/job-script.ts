import type {TunnelConfig} from '../../config/types.js';

/**
 * What stands for the backend's port in a SLURM model's command: the job picks the port on its
 * node (switchboard cannot see which are free there) and the script sets this variable.
 */
export const jobPortVariable = '$SWITCHBOARD_PORT';

/** The job's comment once its backend's port is known: how a direct job tells switchboard where it listens. */
export const portComment = (port: string) => `switchboard-port=${port}`;

export function portFromComment(comment: string | undefined): number | undefined {
	const match = /switchboard-port=(\d+)/.exec(comment ?? '');
	return match ? Number(match[1]) : undefined;
}

export interface JobScriptOptions {
	model: string;
	/** The server command; `$SWITCHBOARD_PORT` in it is the port the job picked. */
	command: readonly string[];
	env: Readonly<Record<string, string>>;
	/** The first port tried on the node. */
	firstPort: number | 'by job id';
	/** Set for a tunnel: `ssh -R <tunnelPort>:127.0.0.1:<port>` back to switchboard's host. */
	tunnel: (TunnelConfig & {port: number}) | undefined;
}

/**
 * The bash script a job runs. The server runs in the job's own process tree, never daemonised, so
 * that scancel reaches it (SLURM's linuxproc tracking loses processes that detach). In a tunnel
 * the script waits for either the server or ssh to end and then ends the other: a job whose
 * tunnel broke is of no use, and ending it is what switchboard sees.
 */
export function jobScript(options: JobScriptOptions): string {
	const {tunnel} = options;
	const lines = [
		'#!/bin/bash',
		`# switchboard: ${oneLine(options.model)}`,
		'echo "switchboard: job ${SLURM_JOB_ID:-?} runs on $(hostname)"',
		// The first port from here that nothing on this node listens on.
		options.firstPort === 'by job id' ? 'port=$(( 20000 + ${SLURM_JOB_ID:-0} % 20000 ))' : `port=${options.firstPort}`,
		'while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done',
		'export SWITCHBOARD_PORT=$port',
		...Object.entries(options.env).map(([name, value]) => `export ${name}=${quote(value)}`),
		// Where the backend listens, for switchboard to read from squeue (the job's output may be on another disk).
		`scontrol update JobId="$SLURM_JOB_ID" Comment="${portComment('$port')}" || echo "switchboard: scontrol could not record the port in the job's comment"`,
		`echo "switchboard: the backend listens on $(hostname):$port"`,
	];
	const command = options.command.map(word => shellWord(word)).join(' ');
	if (!tunnel) {
		lines.push(`exec ${command}`);
		return lines.join('\n') + '\n';
	}

	const target = `${tunnel.user}@${tunnel.host}`;
	lines.push(
		`echo ${quote(`switchboard: opening the tunnel ${target}:${tunnel.port} -> `)}"$(hostname):$port"`,
		[
			'ssh -N',
			'-o ExitOnForwardFailure=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
			'-o ServerAliveInterval=15 -o ServerAliveCountMax=3',
			`-p ${tunnel.sshPort} -R ${tunnel.port}:127.0.0.1:$port ${quote(target)} &`,
		].join(' '),
		'tunnel=$!',
		`${command} &`,
		'server=$!',
		// scancel and the time limit signal every process of the job: ssh then ends too, and that is no login problem.
		'trap \'stopping=1; kill $server $tunnel 2>/dev/null\' TERM INT',
		'wait -n',
		'status=$?',
		`if [ -z "\${stopping:-}" ] && ! kill -0 $tunnel 2>/dev/null; then echo ${quote(`switchboard: the SSH tunnel to ${target} (port ${tunnel.sshPort}) ended with code`)} "$status;" ${quote(`is the key of this job's user in ${tunnel.user}'s authorized_keys on ${tunnel.host}?`)}; fi`,
		'kill $server $tunnel 2>/dev/null',
		'wait',
		'exit $status',
	);
	return lines.join('\n') + '\n';
}

/** A word for bash, with `$SWITCHBOARD_PORT` left for bash to fill in. */
function shellWord(word: string): string {
	if (!word.includes(jobPortVariable)) {
		return quote(word);
	}

	return word.split(jobPortVariable).map(part => part === '' ? '' : quote(part)).join('"$SWITCHBOARD_PORT"');
}

function quote(text: string): string {
	return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll('\'', '\'\\\'\'')}'`;
}

function oneLine(text: string): string {
	return text.replaceAll(/\s+/g, ' ');
}
