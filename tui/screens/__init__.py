"""One screen per view: experiments, run, leaderboard, recall grid, and the help and quit dialogs."""
