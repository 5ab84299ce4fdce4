"""What the app and the report both show, as data that neither draws: the page's charts, the galleries' lesions
and the leaderboard's ranking."""
