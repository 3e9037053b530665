"""Reports for people: feedback and metric history, the dashboard snapshot, charts."""
