import {gpuStripLines} from '../format/gpu-strip.js';
import type {GpuPoll} from '../gpu/nvidia-smi.js';
import type {Cell} from '../theme.js';
import {Line} from './line.js';

/**
 * The strip's lines: each GPU's utilisation, memory and holder in one or two lines, or why
 * nvidia-smi gave none, in one; none before the first poll (or without nvidia-smi).
 * `holders` maps a CUDA_VISIBLE_DEVICES index to the local backend holding it (`chat#0`).
 */
export function gpuStrip(poll: GpuPoll | undefined, holders: ReadonlyMap<string, string>, width: number): Cell[][] {
	if (poll === undefined) {
		return [];
	}

	return 'error' in poll ? [[{text: `nvidia-smi: ${poll.error}`, color: 'yellow'}]] : gpuStripLines(poll.readings, holders, width);
}

export function GpuStrip({lines}: {lines: readonly Cell[][]}) {
	return lines.map((cells, index) => <Line key={index} cells={cells}/>);
}
