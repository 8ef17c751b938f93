"""Plans: what a playbook would change on each host, computed before anything is written."""
