"""Installing and supervising the service: systemd units and notifications (Linux), Task Scheduler (Windows)."""
