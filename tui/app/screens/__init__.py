"""One screen per view and dialog: experiments, run, leaderboard and recall grid (sharing ranked), run detail,
operating point, ensemble, charts, sweeps, galleries, and the help, quit and confirm-queue dialogs."""
