"""Watch: refresh the releases, keep their history, watch places and send alerts.

Everything here keeps its state in a small SQLite database (config.state_db_path()), apart from the warehouse,
so a rebuild of the warehouse never touches watches, findings or deliveries. See docs/monitor.md.
"""
