"""Management commands: set-up, import, inspection, reconciliation and the demo, each calling services."""
