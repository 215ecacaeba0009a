"""The scheduler: APScheduler 3 in the server's event loop, driven by ``[schedule]``.

``triggers`` turns job configs into triggers and fire times (pure given ``now``);
``runner`` runs one job and records it; ``service`` is the live scheduler with
catch-up, lease, reload and alerts.
"""
