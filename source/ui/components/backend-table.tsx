import {memo} from 'react';
import type {TableLines} from '../format/backend-table.js';
import {Line} from './line.js';

export interface BackendTableProps {
	table: TableLines;
	/** Which line is selected, if the table has one. */
	selected: number | undefined;
	/** How many rows fit; the window follows the selection. */
	height: number;
	/** Whether keys move the selection; the selection shows only then. */
	focused: boolean;
	/** When the rows are filtered: the filter. */
	filter: string;
}

/** The models and their backends: a header line, then one pre-formatted line per row. */
export const BackendTable = memo(({table, selected, height, focused, filter}: BackendTableProps) => {
	const first = selected === undefined ? 0 : Math.max(0, Math.min(selected - Math.floor(height / 2), table.lines.length - height));
	const shown = table.lines.slice(first, first + height);
	return (
		<>
			<Line cells={table.header}/>
			{shown.map((cells, index) => (
				<Line
					// A row's place on screen is its identity here: the lines are redrawn, not moved.
					key={index}
					cells={cells}
					inverse={focused && first + index === selected}
				/>
			))}
			{table.lines.length === 0 && <Line cells={[{text: filter === '' ? 'No models configured.' : `No model matches “${filter}” (esc clears the filter).`, dim: true}]}/>}
		</>
	);
});
