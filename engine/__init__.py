"""dermalab's engine: experiments, data, training, metrics and the run store, without any user interface."""
