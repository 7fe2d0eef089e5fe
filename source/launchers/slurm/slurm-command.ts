import {execFile} from 'node:child_process';

/** A SLURM command that failed: its own message (sbatch's "Batch job submission failed: …"), or why it could not run. */
export class SlurmCommandError extends Error {
	constructor(readonly program: string, message: string) {
		super(message);
		this.name = 'SlurmCommandError';
	}
}

/** How long a SLURM client may take before it counts as failed (slurmctld busy or down). */
const commandTimeoutMs = 30_000;

/** Runs a SLURM client (sbatch, squeue, scancel, scontrol) and resolves with what it printed. */
export async function runSlurm(program: string, args: readonly string[], input?: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const child = execFile(program, args, {timeout: commandTimeoutMs, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
			if (!error) {
				resolve(stdout);
				return;
			}

			const code = (error as NodeJS.ErrnoException).code;
			const said = stderr.trim() || stdout.trim();
			const message = code === 'ENOENT'
				? `${program} is not on PATH: is this a SLURM login node (or is the SLURM client installed)?`
				: said || (error.killed ? `${program} did not answer within ${commandTimeoutMs / 1000} s` : error.message);
			reject(new SlurmCommandError(program, message));
		});
		if (input !== undefined) {
			child.stdin?.on('error', () => undefined);
			child.stdin?.end(input);
		}
	});
}
