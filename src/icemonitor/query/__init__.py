"""The selection layer: which counted events a figure counts (table, period, place, filters, rows, placement),
compiled to SQL and parameters, and what the records cover of it. Between places and analysis."""
