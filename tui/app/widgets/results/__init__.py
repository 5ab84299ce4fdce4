"""The results' tables and grids: leaderboard, recall grid, confusion matrix, figures, ROC, colour scales."""
