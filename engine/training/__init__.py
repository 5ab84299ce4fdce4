"""One run on one device: DermaMNIST and its download, batched augmentation, the networks, what a run takes
(RunOptions) and the training loop that reports events."""
