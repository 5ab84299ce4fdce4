"""One screen per view and dialog: experiments, run, leaderboard and recall grid (sharing ranked), run detail,
operating point, ensemble, charts, galleries, and the help, quit and confirm-queue dialogs."""
