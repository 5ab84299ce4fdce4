"""Pure numerics over a run's val labels and probabilities: the page's metrics, bootstrap intervals, screening
thresholds and which lesions a gallery shows. Nothing here reads the store."""
